package redis

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// pipeDialer dials a net.Pipe, recording the address asked for, and runs
// during (when set) before it returns, as a poll that answers meanwhile.
type pipeDialer struct {
	dialled []string
	remote  []net.Conn
	during  func()
}

func (p *pipeDialer) dial(_ context.Context, _, addr string) (net.Conn, error) {
	p.dialled = append(p.dialled, addr)
	local, remote := net.Pipe()
	p.remote = append(p.remote, remote)
	if p.during != nil {
		p.during()
	}
	return local, nil
}

// view is an answer naming master at epoch, with replicas, every sentinel
// answering.
func view(master string, epoch int64, replicas ...string) sentinelView {
	return sentinelView{master: master, replicas: replicas, epoch: epoch, named: map[string]int64{master: epoch}, everyOne: true}
}

// roles is a replicaOf that answers from a table: each server's master,
// "" for a master; a server not in it does not answer.
func roles(of map[string]string) func(context.Context, string) (string, error) {
	return func(_ context.Context, addr string) (string, error) {
		master, ok := of[addr]
		if !ok {
			return "", errors.New("no answer")
		}
		return master, nil
	}
}

func TestMasterConnsDialTheMasterInsteadOfAServerReplaced(t *testing.T) {
	m := newMasterConns()
	m.replicaOf = roles(map[string]string{"old:6379": "new:6379"})
	p := &pipeDialer{}
	dial := m.dialer(p.dial)
	m.learn(1, view("old:6379", 1), time.Now())
	m.learn(2, view("new:6379", 2, "old:6379", "replica:6379"), time.Now())
	for _, asked := range []string{"old:6379", "new:6379", "sentinel:26379"} {
		conn, err := dial(context.Background(), "tcp", asked)
		if err != nil {
			t.Fatalf("dial %s: %v", asked, err)
		}
		defer conn.Close()
	}
	want := []string{"new:6379", "new:6379", "sentinel:26379"}
	for i := range want {
		if p.dialled[i] != want[i] {
			t.Errorf("dialled %v, want %v", p.dialled, want)
			break
		}
	}
	if n := m.to("new:6379"); n != 2 {
		t.Errorf("%d connections counted to the master, want 2", n)
	}
	// A replica may have become the master since the answer: once it
	// says it is a master, the dial has the polls ask again, and fails
	// rather than guess if they name it no master.
	m.replicaOf = roles(map[string]string{"replica:6379": ""})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if conn, err := dial(ctx, "tcp", "replica:6379"); err == nil {
		conn.Close()
		t.Error("a dial of a replica succeeded")
	}
	select {
	case <-m.nudge:
	default:
		t.Error("a refused dial did not ask the polls to ask again")
	}
	// When they name it master, the dial goes on.
	go func() {
		<-m.nudge
		m.learn(3, view("replica:6379", 3, "new:6379"), time.Now())
	}()
	conn, err := dial(context.Background(), "tcp", "replica:6379")
	if err != nil {
		t.Fatalf("a dial of the replica the polls then named master: %v", err)
	}
	conn.Close()
}

// A server some sentinel named master at an older configuration may be
// the master again (a failback go-redis heard of first) or an old master
// go-redis's sentinel still names: the server's own word tells. One that
// replicates the master has its dial sent there; one that says it is a
// master, or does not answer, or replicates another, waits for the
// sentinels to name it master, and fails if they do not.
func TestMasterConnsAskAnOldMasterWhoseReplicaItIs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		of      map[string]string // the servers' ROLE
		answer  *sentinelView     // the next question's, if any
		dialled string            // "" if the dial fails
	}{
		{"replica of the master", map[string]string{"a:6379": "b:6379"}, nil, "b:6379"},
		{"says it is a master", map[string]string{"a:6379": ""}, nil, ""},
		{"does not answer", map[string]string{}, nil, ""},
		{"replica of another", map[string]string{"a:6379": "c:6379"}, nil, ""},
		{"the failback", map[string]string{"a:6379": ""}, ptr(view("a:6379", 3, "b:6379")), "a:6379"},
		{"every sentinel names the other master", map[string]string{"a:6379": ""}, ptr(view("b:6379", 2, "a:6379")), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMasterConns()
			m.learn(m.ask(), view("a:6379", 1), time.Now())
			m.learn(m.ask(), view("b:6379", 2, "a:6379"), time.Now())
			m.replicaOf = roles(tc.of)
			p := &pipeDialer{}
			if tc.answer != nil {
				go func() {
					<-m.nudge
					m.learn(m.ask(), *tc.answer, time.Now())
				}()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			conn, err := m.dialer(p.dial)(ctx, "tcp", "a:6379")
			if err == nil {
				conn.Close()
			}
			switch {
			case tc.dialled == "" && err == nil:
				t.Errorf("dialled %v, want the dial to fail", p.dialled)
			case tc.dialled != "" && err != nil:
				t.Errorf("dial failed: %v; want %s dialled", err, tc.dialled)
			case tc.dialled != "" && p.dialled[len(p.dialled)-1] != tc.dialled:
				t.Errorf("dialled %v, want %s", p.dialled, tc.dialled)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Closing the client ends a dial waiting for the sentinels.
func TestMasterConnsCloseEndsADialWaitingForAnAnswer(t *testing.T) {
	m := newMasterConns()
	m.learn(m.ask(), view("b:6379", 2, "a:6379"), time.Now())
	done := make(chan error, 1)
	go func() {
		conn, err := m.dialer((&pipeDialer{}).dial)(context.Background(), "tcp", "a:6379")
		if err == nil {
			conn.Close()
		}
		done <- err
	}()
	<-m.nudge // waiting
	m.close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the dial of a replica succeeded")
		}
	case <-time.After(routeWait / 2):
		t.Error("the dial still waits after the client closed")
	}
}

func TestMasterConnsFailADialWhoseServerIsReplacedMeanwhile(t *testing.T) {
	m := newMasterConns()
	m.learn(1, view("old:6379", 1), time.Now())
	p := &pipeDialer{}
	p.during = func() { m.learn(2, view("new:6379", 2, "old:6379"), time.Now()) }
	conn, err := m.dialer(p.dial)(context.Background(), "tcp", "old:6379")
	if err == nil {
		conn.Close()
		t.Fatal("a dial to a server replaced while it was dialled succeeded")
	}
	if n := m.to("old:6379"); n != 0 {
		t.Errorf("%d connections counted to the replaced server", n)
	}
	_ = p.remote[0].SetReadDeadline(time.Now().Add(time.Second))
	if _, err := p.remote[0].Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("the connection to the replaced server was left open: read %v", err)
	}
}

func TestMasterConnsIgnoreAnAnswerToAnEarlierQuestion(t *testing.T) {
	m := newMasterConns()
	p := &pipeDialer{}
	dial := m.dialer(p.dial)
	m.learn(2, view("new:6379", 5, "old:6379"), time.Now())
	conn, err := dial(context.Background(), "tcp", "new:6379")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Asked first, answered last, of the same configuration: a sentinel's
	// view before it saw the master change, say.
	m.learn(1, sentinelView{master: "old:6379", epoch: 5, everyOne: true}, time.Now())
	if n := m.to("new:6379"); n != 1 {
		t.Errorf("the connection to the newest master was closed by an older answer")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if conn, err := dial(ctx, "tcp", "old:6379"); err == nil {
		conn.Close()
		t.Errorf("after an older answer, a dial of a replica went to %s", p.dialled[len(p.dialled)-1])
	}
}

// An answer of a newer configuration is learnt even when a later question
// was answered first, with an older one (its newest sentinel slow to
// answer): else the epoch taken would name one master and the dialer
// another, and every answer after it, older, would be refused.
func TestMasterConnsLearnANewerConfigurationWhicheverQuestionCameFirst(t *testing.T) {
	m := newMasterConns()
	m.replicaOf = roles(map[string]string{"old:6379": "new:6379"})
	p := &pipeDialer{}
	dial := m.dialer(p.dial)
	stale := view("old:6379", 1, "new:6379")
	stale.everyOne = false
	m.learn(1, view("old:6379", 1), time.Now())
	m.learn(3, stale, time.Now())
	newer := view("new:6379", 2, "old:6379")
	newer.named["old:6379"] = 1 // the stale sentinel answered too
	if _, ok := m.learn(2, newer, time.Now()); !ok {
		t.Fatal("the newer configuration was refused")
	}
	if _, ok := m.learn(4, stale, time.Now()); ok {
		t.Error("an older configuration was taken after the newer one")
	}
	conn, err := dial(context.Background(), "tcp", "old:6379")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := p.dialled[len(p.dialled)-1]; got != "new:6379" {
		t.Errorf("a dial of the old master went to %s, want the newer configuration's master", got)
	}
}

func TestEpochFloorTakesAnOlderConfigurationOnlyAfterTheRollback(t *testing.T) {
	var f epochFloor
	start := time.Now()
	steps := []struct {
		epoch    int64
		everyOne bool
		after    time.Duration
		want     bool
	}{
		{3, false, 0, true},
		{5, true, time.Second, true},
		{4, true, 2 * time.Second, false},                    // older: refused
		{4, true, 2*time.Second + epochRollback/2, false},    // still within the rollback
		{5, true, 2*time.Second + epochRollback*3/4, true},   // the newest again: the older run ends
		{4, true, 3*time.Second + epochRollback, false},      // a new run of older answers
		{4, false, 3*time.Second + epochRollback*3/2, false}, // a sentinel silent: the run ends
		{4, true, 3*time.Second + 2*epochRollback, false},    // a new run
		{4, true, 3*time.Second + 3*epochRollback - time.Millisecond, false},
		{0, true, 3*time.Second + 3*epochRollback, true}, // every sentinel older for the whole rollback: taken
		{1, false, 4*time.Second + 3*epochRollback, true},
		{0, false, 5*time.Second + 9*epochRollback, false}, // older, with a sentinel silent: never taken
	}
	for i, s := range steps {
		if _, ok := f.admit(s.epoch, s.everyOne, start.Add(s.after)); ok != s.want {
			t.Errorf("step %d: epoch %d at %v taken %v, want %v", i, s.epoch, s.after, ok, s.want)
		}
	}
}
