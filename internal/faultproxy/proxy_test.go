package faultproxy_test

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/internal/faultproxy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// lineServer answers each line it reads with "ok <line>" and passes on
// every line or fragment it reads, so that a test can tell what reached it.
type lineServer struct {
	ln    net.Listener
	lines chan string
	mu    sync.Mutex
	wg    sync.WaitGroup
	conns []net.Conn
}

func startLineServer(t *testing.T) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln, lines: make(chan string, 64)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *lineServer) serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			s.lines <- line
		}
		if err != nil {
			return
		}
		if _, err := c.Write([]byte("ok " + line)); err != nil {
			return
		}
	}
}

// next returns the next line or fragment that reached the server.
func (s *lineServer) next(t *testing.T) string {
	t.Helper()
	select {
	case line := <-s.lines:
		return line
	case <-time.After(5 * time.Second):
		t.Fatal("nothing reached the server within 5s")
		return ""
	}
}

// nothingMore fails t if anything reached the server that next has not
// returned.
func (s *lineServer) nothingMore(t *testing.T) {
	t.Helper()
	select {
	case line := <-s.lines:
		t.Fatalf("server received %q, want nothing more", line)
	default:
	}
}

func startProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{c: c, r: bufio.NewReader(c)}
}

// ask sends line and returns the answer, or the error of reading it within
// wait.
func (c *client) ask(line string, wait time.Duration) (string, error) {
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	_ = c.c.SetReadDeadline(time.Now().Add(wait))
	return c.r.ReadString('\n')
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestPassesTraffic(t *testing.T) {
	s := startLineServer(t)
	p := startProxy(t, s.ln.Addr().String())
	c := dial(t, p.Addr())
	for _, line := range []string{"one", "two"} {
		got, err := c.ask(line, 5*time.Second)
		if err != nil || got != "ok "+line+"\n" {
			t.Fatalf("ask(%q) = %q, %v", line, got, err)
		}
	}
}

func TestStallHoldsEverythingUntilHealResetsIt(t *testing.T) {
	s := startLineServer(t)
	p := startProxy(t, s.ln.Addr().String())
	before := dial(t, p.Addr())
	if _, err := before.ask("warm", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	fired := p.Inject(faultproxy.Stall, faultproxy.Contains("stuck"))
	if _, err := before.ask("stuck", 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("a stalled command got %v, want a timeout", err)
	}
	<-fired
	during := dial(t, p.Addr()) // connects: the kernel accepts it
	if _, err := during.ask("new", 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("a connection opened during the stall got %v, want a timeout", err)
	}
	if got := s.next(t); got != "warm\n" {
		t.Fatalf("server received %q, want the first line", got)
	}
	s.nothingMore(t)
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client{"before": before, "during": during} {
		if got, err := c.ask("again", 5*time.Second); err == nil {
			t.Errorf("%s: a stalled connection answered %q after Heal, want it reset", name, got)
		}
	}
	after := dial(t, p.Addr())
	if got, err := after.ask("fresh", 5*time.Second); err != nil || got != "ok fresh\n" {
		t.Fatalf("after Heal: %q, %v", got, err)
	}
}

func TestResetTruncatesTheCommand(t *testing.T) {
	s := startLineServer(t)
	p := startProxy(t, s.ln.Addr().String())
	c := dial(t, p.Addr())
	fired := p.Inject(faultproxy.Reset, faultproxy.Contains("boom"))
	if got, err := c.ask("boom-0123456789", 5*time.Second); err == nil {
		t.Fatalf("got %q, want the connection reset", got)
	}
	<-fired
	if got := s.next(t); got != "boom-012" {
		t.Fatalf("server received %q, want the first half", got)
	}
	if got, err := dial(t, p.Addr()).ask("next", 5*time.Second); err != nil || got != "ok next\n" {
		t.Fatalf("next connection: %q, %v", got, err)
	}
}

func TestDropReplyDeliversTheCommandButNotTheAnswer(t *testing.T) {
	s := startLineServer(t)
	p := startProxy(t, s.ln.Addr().String())
	c := dial(t, p.Addr())
	fired := p.Inject(faultproxy.DropReply, faultproxy.Contains("write"))
	if got, err := c.ask("write-x", 5*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("got %q, %v; want the connection reset", got, err)
	}
	<-fired
	if got := s.next(t); got != "write-x\n" {
		t.Fatalf("server received %q, want the whole command", got)
	}
	if got, err := dial(t, p.Addr()).ask("next", 5*time.Second); err != nil || got != "ok next\n" {
		t.Fatalf("next connection: %q, %v", got, err)
	}
}

func TestRefuseGoesDownUntilHeal(t *testing.T) {
	s := startLineServer(t)
	p := startProxy(t, s.ln.Addr().String())
	other := dial(t, p.Addr())
	if _, err := other.ask("warm", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	fired := p.Inject(faultproxy.Refuse, faultproxy.Contains("last"))
	if got, err := c.ask("last", 5*time.Second); err == nil {
		t.Fatalf("got %q, want the connection reset", got)
	}
	<-fired
	if got := s.next(t) + s.next(t); got != "warm\nlast\n" {
		t.Fatalf("server received %q, want the command delivered", got)
	}
	if got, err := other.ask("still", 5*time.Second); err == nil {
		t.Fatalf("another connection answered %q, want it reset", got)
	}
	_, err := net.Dial("tcp", p.Addr())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while down: %v, want connection refused", err)
	}
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	if got, err := dial(t, p.Addr()).ask("back", 5*time.Second); err != nil || got != "ok back\n" {
		t.Fatalf("after Heal: %q, %v", got, err)
	}
}

func TestHealDisarmsFaultsThatDidNotStrike(t *testing.T) {
	s := startLineServer(t)
	p := startProxy(t, s.ln.Addr().String())
	fired := p.Inject(faultproxy.Reset, faultproxy.Contains("never"))
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	if got, err := dial(t, p.Addr()).ask("never", 5*time.Second); err != nil || got != "ok never\n" {
		t.Fatalf("a disarmed fault struck: %q, %v", got, err)
	}
	select {
	case <-fired:
		t.Fatal("a disarmed fault reports that it fired")
	default:
	}
}

func TestStartRefusesNonLoopbackTargets(t *testing.T) {
	for _, target := range []string{"192.0.2.1:6379", "example.com:5432", "no-port"} {
		if p, err := faultproxy.Start(target); err == nil {
			p.Close()
			t.Errorf("Start(%q) succeeded", target)
		}
	}
}

func TestRedisCommand(t *testing.T) {
	set := faultproxy.RedisCommand("SET")
	tests := []struct {
		name  string
		chunk string
		want  bool
	}{
		{"lower case", "*3\r\n$3\r\nset\r\n$5\r\ntoken\r\n$1\r\nx\r\n", true},
		{"upper case", "*3\r\n$3\r\nSET\r\n$5\r\ntoken\r\n$1\r\nx\r\n", true},
		{"other command", "*2\r\n$3\r\nget\r\n$5\r\ntoken\r\n", false},
		{"longer name", "*4\r\n$6\r\nclient\r\n$7\r\nsetinfo\r\n", false},
		{"set as an argument", "*2\r\n$3\r\ndel\r\n$3\r\nset\r\n", false},
		{"inline", "SET a b\r\n", false},
		{"truncated", "*3\r\n$3\r\nse", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := set([]byte(tt.chunk)); got != tt.want {
				t.Fatalf("RedisCommand(SET)(%q) = %v, want %v", tt.chunk, got, tt.want)
			}
		})
	}
	if !faultproxy.Contains("insert into TOKEN")([]byte("P\x00INSERT INTO token (a)")) {
		t.Error("Contains is case-sensitive")
	}
}
