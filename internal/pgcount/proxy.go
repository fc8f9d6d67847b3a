// Package pgcount is a TCP proxy for tests that counts the PostgreSQL
// round trips its clients make. It reads the messages a client sends (the
// frontend half of the protocol) and passes everything through unchanged.
//
// A round trip is a message the server answers with ReadyForQuery and the
// client must wait for: a Query (the simple protocol, which may hold
// several statements) or a Sync (which ends a batch of the extended
// protocol: Parse, Bind, Describe, Execute). lib/pq, for example, sends a
// statement with parameters either as one batch or as two (prepare, then
// execute), and the count tells them apart.
//
// It listens on 127.0.0.1 only and forwards only to the target it was
// started with.
package pgcount

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Counts are the messages clients sent, by kind, since the proxy started.
type Counts struct {
	Queries  int // simple-protocol Query messages
	Syncs    int // extended-protocol Sync messages
	Parses   int // extended-protocol Parse messages
	Executes int // extended-protocol Execute messages
}

// RoundTrips is how many times a client waited for the server.
func (c Counts) RoundTrips() int { return c.Queries + c.Syncs }

// Sub returns c less an earlier snapshot.
func (c Counts) Sub(earlier Counts) Counts {
	return Counts{
		Queries:  c.Queries - earlier.Queries,
		Syncs:    c.Syncs - earlier.Syncs,
		Parses:   c.Parses - earlier.Parses,
		Executes: c.Executes - earlier.Executes,
	}
}

func (c Counts) String() string {
	return fmt.Sprintf("%d round trips (%d Query, %d Sync; %d Parse, %d Execute)",
		c.RoundTrips(), c.Queries, c.Syncs, c.Parses, c.Executes)
}

// dialTimeout bounds the proxy's connection to its target.
const dialTimeout = 5 * time.Second

// Proxy forwards connections from a loopback address to a PostgreSQL
// server and counts what clients send. Its methods are safe for concurrent
// use.
type Proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	counts Counts
	conns  map[net.Conn]struct{}
	closed bool

	wg sync.WaitGroup
}

// Start listens on a free port of 127.0.0.1 and forwards each connection
// to target, which must be a loopback address such as "127.0.0.1:5432".
// Close stops it.
func Start(target string) (*Proxy, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", target, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("target %q is not a loopback address", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	p := &Proxy{target: target, ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to, such as "127.0.0.1:41234".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Counts returns what clients have sent so far. A message is counted once
// the proxy has read it, before it reaches the server, so a client that
// has its answer is counted.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(client)
	}
}

// track registers c to be closed by Close, or closes it and reports false
// if the proxy is closed already.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	_ = c.Close()
}

// forward connects client to the target and copies both ways, counting
// the client's messages, until either side closes.
func (p *Proxy) forward(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil || !p.track(server) {
		return
	}
	defer p.untrack(server)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_, _ = io.Copy(client, server)
		_ = client.Close()
	}()
	_ = p.relay(bufio.NewReader(client), server)
	_ = server.Close()
}

// Protocol codes of the untyped messages a client may send first.
const (
	sslRequest    = 80877103
	gssEncRequest = 80877104
)

// relay copies the client's messages to server one by one, counting them.
// The first messages carry no type byte: a startup message, after an
// SSLRequest or GSSENCRequest that the server declined (the proxy reads no
// further once a client starts TLS, whose bytes it cannot parse).
func (p *Proxy) relay(r *bufio.Reader, server net.Conn) error {
	for {
		msg, err := readMessage(r, false)
		if err != nil {
			return err
		}
		if _, err := server.Write(msg); err != nil {
			return err
		}
		code := binary.BigEndian.Uint32(msg[4:8])
		if code != sslRequest && code != gssEncRequest {
			break
		}
		if b, err := r.Peek(1); err != nil {
			return err
		} else if b[0] == 0x16 { // a TLS handshake record
			_, err := io.Copy(server, r)
			return err
		}
	}
	for {
		msg, err := readMessage(r, true)
		if err != nil {
			return err
		}
		p.count(msg[0])
		if _, err := server.Write(msg); err != nil {
			return err
		}
	}
}

func (p *Proxy) count(kind byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch kind {
	case 'Q':
		p.counts.Queries++
	case 'S':
		p.counts.Syncs++
	case 'P':
		p.counts.Parses++
	case 'E':
		p.counts.Executes++
	}
}

// maxMessage bounds one message, as a guard against a stream the proxy
// misreads.
const maxMessage = 64 << 20

// readMessage reads one whole message: a type byte when typed, then a
// big-endian length that counts itself and the body.
func readMessage(r *bufio.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	msg := make([]byte, head, 64)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(msg[head-4:]))
	if n < 4 || n > maxMessage || (!typed && n < 8) {
		return nil, errors.New("malformed PostgreSQL message length")
	}
	msg = append(msg, make([]byte, n-4)...)
	if _, err := io.ReadFull(r, msg[head:]); err != nil {
		return nil, err
	}
	return msg, nil
}
