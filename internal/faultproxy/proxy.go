package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds the proxy's connection to its target.
const dialTimeout = 5 * time.Second

// Proxy forwards connections from a loopback address to a target and
// injects faults on demand. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string

	mu       sync.Mutex
	ln       net.Listener // nil while refusing or closed
	links    map[*link]struct{}
	armed    []*armed
	stalled  bool
	resume   chan struct{} // closed when a stall ends
	refusing bool
	closed   bool

	wg sync.WaitGroup // every goroutine of the proxy
}

// armed is a fault waiting for its command.
type armed struct {
	fault Fault
	match Matcher
	fired chan struct{}
}

// Start listens on a free port of 127.0.0.1 and forwards each connection
// to target, which must be a loopback address such as "127.0.0.1:6379".
// Close stops it.
func Start(target string) (*Proxy, error) {
	if err := checkLoopback(target); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), links: make(map[*link]struct{})}
	p.serve(ln)
	return p, nil
}

// checkLoopback refuses a target outside the loopback interface: the proxy
// is for tests on one machine.
func checkLoopback(target string) error {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("target %q: %w", target, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %q is not a loopback address", target)
	}
	return nil
}

// Addr is the address clients connect to, such as "127.0.0.1:41234". It
// stays the same across Refuse and Heal.
func (p *Proxy) Addr() string { return p.addr }

// Inject arms fault to strike the first command, on any connection, that
// match recognises. It returns a channel closed when the fault strikes
// (for DropReply and Refuse: when the reply arrives to be swallowed),
// before the client can see its effect, so that a client that has seen it
// finds the channel closed. Heal disarms a fault that has not struck.
func (p *Proxy) Inject(fault Fault, match Matcher) <-chan struct{} {
	a := &armed{fault: fault, match: match, fired: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = append(p.armed, a)
	return a.fired
}

// Stall stops forwarding at once, as the Stall fault does.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallLocked()
}

// Refuse resets every connection and refuses new ones until Heal.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.goDownLocked()
}

// Heal ends every fault: it disarms those not yet struck, resets the
// connections a stall held, and listens again (on the same address) after
// Refuse. Traffic then passes.
func (p *Proxy) Heal() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("proxy is closed")
	}
	p.armed = nil
	if p.stalled {
		for l := range p.links {
			if l.held {
				p.killLocked(l, true)
			}
		}
		p.stalled = false
		close(p.resume)
	}
	if p.refusing {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("listening again on %s: %w", p.addr, err)
		}
		p.refusing = false
		p.serveLocked(ln)
	}
	return nil
}

// Close stops listening, resets every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.ln != nil {
			_ = p.ln.Close()
			p.ln = nil
		}
		for l := range p.links {
			p.killLocked(l, true)
		}
		if p.stalled {
			p.stalled = false
			close(p.resume)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serveLocked(ln)
}

// serveLocked accepts connections on ln until it is closed.
func (p *Proxy) serveLocked(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.admit(c)
		}
	}()
}

// admit starts forwarding a new connection, or holds it during a stall.
func (p *Proxy) admit(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.refusing {
		reset(c)
		return
	}
	l := &link{client: c, held: p.stalled, done: make(chan struct{})}
	p.links[l] = struct{}{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.forward(l)
	}()
}

// stallLocked starts a stall: every connection open now or opened before
// Heal is held, and reset by Heal.
func (p *Proxy) stallLocked() {
	if p.stalled || p.closed {
		return
	}
	p.stalled = true
	p.resume = make(chan struct{})
	for l := range p.links {
		l.held = true
	}
}

// goDownLocked resets every connection and stops listening.
func (p *Proxy) goDownLocked() {
	if p.refusing || p.closed {
		return
	}
	p.refusing = true
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for l := range p.links {
		p.killLocked(l, true)
	}
}

// take removes and returns the first armed fault that matches chunk, or
// nil.
func (p *Proxy) take(chunk []byte) *armed {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, a := range p.armed {
		if a.match(chunk) {
			p.armed = append(p.armed[:i:i], p.armed[i+1:]...)
			return a
		}
	}
	return nil
}

// reset closes c with an RST rather than a FIN, where it can.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
