package faultproxy

import (
	"net"
)

// link is one proxied connection: the client's and the proxy's own to the
// target. Fields other than client are guarded by the proxy's mutex.
type link struct {
	client net.Conn
	server net.Conn      // nil until dialled
	held   bool          // open during a stall: reset by Heal
	dead   bool          // killed: both connections closed
	done   chan struct{} // closed when killed
	// onReply, when set, swallows the server's next reply and is then
	// called instead of forwarding it.
	onReply func()
}

// forward dials the target for l and copies both ways until l dies.
func (p *Proxy) forward(l *link) {
	if !p.waitUnstalled(l) {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, dialTimeout)
	p.mu.Lock()
	if err != nil || l.dead {
		if err == nil {
			_ = server.Close()
		}
		p.killLocked(l, true)
		p.mu.Unlock()
		return
	}
	l.server = server
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		p.pumpReplies(l)
	}()
	p.pumpRequests(l)
}

// pumpRequests copies what the client sends to the server, applying the
// first armed fault whose matcher recognises a chunk.
func (p *Proxy) pumpRequests(l *link) {
	buf := make([]byte, 32<<10)
	for {
		n, err := l.client.Read(buf)
		if n > 0 && !p.request(l, buf[:n]) {
			return
		}
		if err != nil {
			p.kill(l, false)
			return
		}
	}
}

// request forwards one chunk from the client, or strikes it with a fault.
// It reports whether l is still alive.
func (p *Proxy) request(l *link, chunk []byte) bool {
	if !p.waitUnstalled(l) {
		return false
	}
	a := p.take(chunk)
	if a == nil {
		return p.write(l, l.server, chunk)
	}
	switch a.fault {
	case Stall:
		p.Stall()
		close(a.fired)
		p.waitUnstalled(l) // Heal resets l
		return false
	case Reset:
		p.write(l, l.server, chunk[:len(chunk)/2])
		close(a.fired)
		p.kill(l, true)
		return false
	case DropReply:
		p.setOnReply(l, func() {
			close(a.fired)
			p.kill(l, true)
		})
	case Refuse:
		p.setOnReply(l, func() {
			close(a.fired)
			p.Refuse()
		})
	}
	return p.write(l, l.server, chunk)
}

// pumpReplies copies what the server sends to the client.
func (p *Proxy) pumpReplies(l *link) {
	buf := make([]byte, 32<<10)
	for {
		n, err := l.server.Read(buf)
		if n > 0 {
			if f := p.takeOnReply(l); f != nil {
				f()
				return
			}
			if !p.waitUnstalled(l) || !p.write(l, l.client, buf[:n]) {
				return
			}
		}
		if err != nil {
			p.kill(l, false)
			return
		}
	}
}

// waitUnstalled returns once no stall holds traffic, reporting whether l
// is still alive.
func (p *Proxy) waitUnstalled(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.stalled && !l.dead {
		resume := p.resume
		p.mu.Unlock()
		select {
		case <-resume:
		case <-l.done:
		}
		p.mu.Lock()
	}
	return !l.dead
}

// write writes b to c, killing l if that fails, and reports whether it
// succeeded.
func (p *Proxy) write(l *link, c net.Conn, b []byte) bool {
	if _, err := c.Write(b); err != nil {
		p.kill(l, false)
		return false
	}
	return true
}

func (p *Proxy) setOnReply(l *link, f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l.onReply = f
}

func (p *Proxy) takeOnReply(l *link) func() {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := l.onReply
	l.onReply = nil
	return f
}

func (p *Proxy) kill(l *link, rst bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killLocked(l, rst)
}

// killLocked closes both of l's connections, with an RST when rst is set,
// which ends its goroutines.
func (p *Proxy) killLocked(l *link, rst bool) {
	if l.dead {
		return
	}
	l.dead = true
	delete(p.links, l)
	close(l.done)
	for _, c := range []net.Conn{l.client, l.server} {
		switch {
		case c == nil:
		case rst:
			reset(c)
		default:
			_ = c.Close()
		}
	}
}
