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

func TestMasterConnsDialTheMasterInsteadOfAServerReplaced(t *testing.T) {
	m := newMasterConns()
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
	// A replica may have become the master since the answer: the dial
	// has the polls ask again, and fails rather than guess if they name
	// it no master.
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

// A server named master at an older configuration may be the master
// again (a failback go-redis heard of first): a dial of it is sent to the
// master only once every sentinel, asked after the dial began, still
// names another; an answer naming it master lets the dial go on.
func TestMasterConnsSendADialOfAnOldMasterElsewhereOnlyOnceEverySentinelConfirms(t *testing.T) {
	setUp := func(t *testing.T) (*masterConns, *pipeDialer, func(context.Context, string, string) (net.Conn, error)) {
		m := newMasterConns()
		m.learn(m.ask(), view("a:6379", 1), time.Now())
		m.learn(m.ask(), view("b:6379", 2, "a:6379"), time.Now())
		p := &pipeDialer{}
		return m, p, m.dialer(p.dial)
	}
	// answerOnNudge answers the next question the dial asks for with v.
	answerOnNudge := func(m *masterConns, v sentinelView) {
		go func() {
			<-m.nudge
			m.learn(m.ask(), v, time.Now())
		}()
	}

	t.Run("no answer since the dial began", func(t *testing.T) {
		m, p, dial := setUp(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if conn, err := dial(ctx, "tcp", "a:6379"); err == nil {
			conn.Close()
			t.Errorf("a dial of the old master went to %v on an answer from before it", p.dialled)
		}
		select {
		case <-m.nudge:
		default:
			t.Error("the dial did not ask the polls to ask again")
		}
	})
	t.Run("every sentinel names the other master", func(t *testing.T) {
		m, p, dial := setUp(t)
		answerOnNudge(m, view("b:6379", 2, "a:6379"))
		conn, err := dial(context.Background(), "tcp", "a:6379")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		if got := p.dialled[len(p.dialled)-1]; got != "b:6379" {
			t.Errorf("dialled %s, want the master b:6379", got)
		}
	})
	t.Run("not every sentinel answered", func(t *testing.T) {
		m, p, dial := setUp(t)
		partial := view("b:6379", 2, "a:6379")
		partial.everyOne = false
		answerOnNudge(m, partial)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if conn, err := dial(ctx, "tcp", "a:6379"); err == nil {
			conn.Close()
			t.Errorf("dialled %v when a sentinel that did not answer may know of a failback", p.dialled)
		}
	})
	t.Run("the failback", func(t *testing.T) {
		m, p, dial := setUp(t)
		answerOnNudge(m, view("a:6379", 3, "b:6379"))
		conn, err := dial(context.Background(), "tcp", "a:6379")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		if got := p.dialled[len(p.dialled)-1]; got != "a:6379" {
			t.Errorf("dialled %s, want a:6379, the master again", got)
		}
	})
}

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
