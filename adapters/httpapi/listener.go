package httpapi

import (
	"bytes"
	"container/list"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// limitWarnEvery spaces the warnings that the connection limit is reached,
// which would otherwise come with every connection under attack.
const limitWarnEvery = time.Minute

// limitListener keeps at most a fixed number of accepted connections
// open. At the limit it makes room by closing the connection idle the
// longest (its client, such as nginx, opens another when it needs one);
// with none idle, Accept holds the new connection, unread, until one closes
// or turns idle, and connections beyond it wait in the kernel's backlog.
//
// It learns which connections are idle from http.Server.ConnState, which
// must be set to its connState; the server asks it too how many requests
// are in flight (see inFlight).
type limitListener struct {
	net.Listener
	logger *slog.Logger

	slots  chan struct{} // a token per open connection
	idled  chan struct{} // a connection turned idle since Accept last looked
	done   chan struct{} // closed by Close, ends a wait for a slot
	closed sync.Once

	mu       sync.Mutex
	idle     list.List                 // of *limitedConn, idle the longest first
	fresh    map[*limitedConn]struct{} // those that have yet to send a whole request header
	draining bool                      // shutdown has begun: see drain
	serving  int                       // connections serving a request: see inFlight
	lastWarn time.Time
}

// newLimitListener limits ln to max open connections.
func newLimitListener(ln net.Listener, max int, logger *slog.Logger) *limitListener {
	return &limitListener{
		Listener: ln,
		logger:   logger,
		slots:    make(chan struct{}, max),
		idled:    make(chan struct{}, 1),
		done:     make(chan struct{}),
		fresh:    make(map[*limitedConn]struct{}),
	}
}

// Accept waits for a connection and for room to serve it.
func (l *limitListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !l.acquire() {
		conn.Close()
		return nil, net.ErrClosed
	}
	return &limitedConn{Conn: conn, l: l}, nil
}

// acquire takes a slot, closing idle connections to free one, or waits
// for one until the listener closes; it reports whether it got one.
func (l *limitListener) acquire() bool {
	for {
		select {
		case l.slots <- struct{}{}:
			return true
		default:
		}
		if l.closeIdlest() {
			continue
		}
		l.warnFull()
		select {
		case l.slots <- struct{}{}:
			return true
		case <-l.idled:
		case <-l.done:
			return false
		}
	}
}

// closeIdlest closes the connection idle the longest, if any, and
// reports whether there was one. Its server goroutine, waiting for the
// next request, then ends. A request that reached it just now is lost, as
// when the idle timeout strikes; nginx retries it on another connection.
func (l *limitListener) closeIdlest() bool {
	l.mu.Lock()
	e := l.idle.Front()
	if e == nil {
		l.mu.Unlock()
		return false
	}
	c := l.idle.Remove(e).(*limitedConn)
	c.idle = nil
	l.mu.Unlock()
	_ = c.Close()
	return true
}

// warnFull logs that the limit is reached, at most once a limitWarnEvery.
func (l *limitListener) warnFull() {
	l.mu.Lock()
	now := time.Now()
	warn := now.Sub(l.lastWarn) >= limitWarnEvery
	if warn {
		l.lastWarn = now
	}
	l.mu.Unlock()
	if warn {
		l.logger.Warn("connection limit reached, new connections wait",
			slog.Int("max_connections", cap(l.slots)))
	}
}

// connState tracks which connections are idle, which have yet to send a
// request (see drain), and how many are serving one (see inFlight); it is
// http.Server's ConnState hook.
func (l *limitListener) connState(conn net.Conn, state http.ConnState) {
	c, ok := conn.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if state == http.StateNew && l.draining {
		_ = c.Close() // accepted as shutdown began
		return
	}
	if state == http.StateNew {
		l.fresh[c] = struct{}{}
	} else {
		delete(l.fresh, c)
	}
	if active := state == http.StateActive; active != c.serving {
		c.serving = active
		if active {
			l.serving++
		} else {
			l.serving--
		}
	}
	if state != http.StateIdle {
		if c.idle != nil {
			l.idle.Remove(c.idle)
			c.idle = nil
		}
		return
	}
	if c.idle == nil {
		c.idle = l.idle.PushBack(c)
	}
	select {
	case l.idled <- struct{}{}:
	default: // Accept has yet to see the last signal
	}
}

// drain closes the connections that have yet to send a whole request
// header, now and as they are accepted from now on; it is http.Server's
// shutdown hook. Once shutdown has begun, net/http drops any request it
// reads rather than serve it, so such a connection holds nothing to
// finish, yet Shutdown counts it as busy until it is 5 seconds old, and
// would wait for it that long or time out.
func (l *limitListener) drain() {
	l.mu.Lock()
	l.draining = true
	fresh := l.fresh
	l.fresh = make(map[*limitedConn]struct{})
	l.mu.Unlock()
	for c := range fresh {
		_ = c.Close()
	}
}

// inFlight is the number of requests in flight: of connections in
// StateActive, which net/http enters once it has read a request's header
// and leaves once it has answered it. Once shutdown has begun, net/http
// serves no new request: a connection that brings one is active only until
// net/http drops it and closes the connection, at once.
func (l *limitListener) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.serving
}

// Close stops accepting connections and ends Accept's wait for a slot.
func (l *limitListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn is a connection holding a slot of its limitListener until
// it is closed. It also bounds the fields of each request's header (see
// maxHeaderFields).
type limitedConn struct {
	net.Conn
	l       *limitListener
	release sync.Once
	idle    *list.Element // in l.idle while idle; guarded by l.mu
	serving bool          // in StateActive, counted in l.serving; guarded by l.mu

	// Read's count of the lines since the last empty one, and of the
	// bytes read of the current line, with its first.
	lines, lineLen int
	lineFirst      byte
	tooMany        bool // past maxHeaderFields: every read fails
}

// maxHeaderFields bounds the lines of a request's header. net/http bounds
// a header's bytes (MaxHeaderBytes) but parses each field into its map as
// it comes, some 200 bytes each, so a header of the shortest fields would
// take some 30 times its size; past this many lines (the request line
// included), reads fail and net/http answers 400 and closes the
// connection. Real requests have a
// few dozen. Lines are counted from the last empty one, which ends a
// header: a request's body (never read here, but discarded by net/http)
// counts too, and needs an empty line every thousand.
const maxHeaderFields = 1000

// errTooManyHeaderFields is the read error past maxHeaderFields.
var errTooManyHeaderFields = errors.New("request header has too many fields")

// Read reads from the connection, counting lines (see maxHeaderFields).
// The read that passes the bound returns its bytes up to the end of the
// line that passed it, and every read after it fails: net/http then meets
// the error at a line's end, before the header's end, and answers 400.
// Failing the read that brought the bytes would not do: net/http parses
// what it holds first, so a header read whole would reach the handler
// with its context cancelled, and one whose error came part-way through a
// line would have that part taken for a whole line and the error dropped.
func (c *limitedConn) Read(p []byte) (int, error) {
	if c.tooMany {
		return 0, errTooManyHeaderFields
	}
	n, err := c.Conn.Read(p)
	for rest := p[:n]; len(rest) > 0; {
		if c.lineLen == 0 {
			c.lineFirst = rest[0]
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			c.lineLen += len(rest)
			break
		}
		// An empty line is "\n" or "\r\n".
		if length := c.lineLen + i; length == 0 || length == 1 && c.lineFirst == '\r' {
			c.lines = 0
		} else if c.lines++; c.lines > maxHeaderFields {
			c.tooMany = true
			return n - len(rest) + i + 1, nil
		}
		c.lineLen = 0
		rest = rest[i+1:]
	}
	return n, err
}

// Close closes the connection and frees its slot.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release.Do(func() { <-c.l.slots })
	return err
}

// CloseWrite shuts down the writing side, if the connection can: net/http
// does so before closing a connection with unread input, so that its
// answer reaches the client rather than a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
