package postgres

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/goleak"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/internal/faultproxy"
	"github.com/tokencache/tokencache/internal/integration"
	"github.com/tokencache/tokencache/ports"
)

// A server that stops answering holds no call past its context, and the
// connection it stalled is closed rather than reused. (Without this, lib/pq
// waits for the reply forever: its cancel request goes through a new
// connection that stalls as well.)

const (
	stallDeadline = 300 * time.Millisecond
	stallLeeway   = 700 * time.Millisecond
)

func TestStalledServerEndsCallsWithTheirContext(t *testing.T) {
	tests := []struct {
		name string
		// call stalls p at some point of a call on db and makes it with
		// ctx.
		call func(ctx context.Context, t *testing.T, db *sqlx.DB, p *faultproxy.Proxy) error
	}{
		{"Statement", func(ctx context.Context, t *testing.T, db *sqlx.DB, p *faultproxy.Proxy) error {
			p.Inject(faultproxy.Stall, faultproxy.Contains("SELECT 42"))
			var n int
			return db.GetContext(ctx, &n, "SELECT 42")
		}},
		{"Commit", func(ctx context.Context, t *testing.T, db *sqlx.DB, p *faultproxy.Proxy) error {
			tx, err := db.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			p.Inject(faultproxy.Stall, faultproxy.Contains("COMMIT"))
			return tx.Commit()
		}},
		{"Rollback", func(ctx context.Context, t *testing.T, db *sqlx.DB, p *faultproxy.Proxy) error {
			tx, err := db.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			// A transaction that has sent nothing has nothing to roll back.
			if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
				t.Fatal(err)
			}
			p.Inject(faultproxy.Stall, faultproxy.Contains("ROLLBACK"))
			return tx.Rollback()
		}},
		{"PreparedStatement", func(ctx context.Context, t *testing.T, db *sqlx.DB, p *faultproxy.Proxy) error {
			repo := NewTokenRepository(db, nil)
			q := domain.ChildQuery{ParentKey: newToken(t).Key, Type: domain.TokenTypeNotebook}
			// The first lookup prepares the statement on the connection,
			// the second runs it as prepared.
			tx, err := repo.Begin(context.Background(), newLock(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.FindChild(context.Background(), q); !errors.Is(err, ports.ErrNotFound) {
				t.Fatalf("FindChild = %v, want ErrNotFound", err)
			}
			if err := tx.Rollback(context.Background()); err != nil {
				t.Fatal(err)
			}
			if tx, err = repo.Begin(context.Background(), newLock(t)); err != nil {
				t.Fatal(err)
			}
			p.Stall()
			_, err = tx.FindChild(ctx, q)
			_ = tx.Rollback(context.Background()) // fails at once: the connection is interrupted
			if errors.Is(err, ports.ErrNotFound) {
				return nil
			}
			return err
		}},
		{"Handshake", func(ctx context.Context, t *testing.T, db *sqlx.DB, p *faultproxy.Proxy) error {
			db.SetMaxIdleConns(0) // the next call connects anew
			p.Stall()
			return db.PingContext(ctx)
		}},
		{"CancelledWithoutDeadline", func(_ context.Context, t *testing.T, db *sqlx.DB, p *faultproxy.Proxy) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(stallDeadline, cancel)
			p.Stall()
			var n int
			return db.GetContext(ctx, &n, "SELECT 1")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			t.Cleanup(func() { verifyNoLeak(t, before) })
			mustOpenDB(t) // migrates
			p := startStallProxy(t)
			db := mustOpenURL(t, p.url)
			ctx, cancel := context.WithTimeout(context.Background(), stallDeadline)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				// A setup step that fails stops this goroutine (t.Fatal):
				// the answer still comes, so that the test fails rather
				// than waits for done until go test's timeout.
				err := errors.New("the call's setup failed")
				defer func() { done <- err }()
				err = tt.call(ctx, t, db, p.Proxy)
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Error("a stalled call succeeded")
				}
				if elapsed := time.Since(start); elapsed > stallDeadline+stallLeeway {
					t.Errorf("the call took %v, its context %v", elapsed, stallDeadline)
				}
				t.Logf("stalled call: %v after %v", err, time.Since(start).Round(time.Millisecond))
			case <-time.After(stallDeadline + stallLeeway):
				t.Errorf("the call was still running %v after its context ended", stallLeeway)
				if err := p.Heal(); err != nil {
					t.Fatal(err)
				}
				t.Logf("once traffic passed: %v", <-done)
			}
			if n := db.Stats().OpenConnections; n != 0 {
				t.Errorf("%d connections still open: the stalled one went back to the pool", n)
			}
			if err := p.Heal(); err != nil {
				t.Fatal(err)
			}
			next, cancelNext := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancelNext()
			var one int
			if err := db.GetContext(next, &one, "SELECT 1"); err != nil {
				t.Fatalf("the next call, with traffic passing, failed: %v", err)
			}
		})
	}
}

// stallProxy is a fault proxy in front of the test database, with the URL
// that reaches the database through it.
type stallProxy struct {
	*faultproxy.Proxy
	url string
}

func startStallProxy(t *testing.T) stallProxy {
	t.Helper()
	u, err := url.Parse(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	u.Host = p.Addr()
	return stallProxy{Proxy: p, url: u.String()}
}

// verifyNoLeak waits up to 15 seconds for the goroutines not in before to
// end (lib/pq's end soon after their connection does, not at once), then
// fails t naming those still running.
func verifyNoLeak(t *testing.T, before goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for goleak.Find(before) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // goleak offers no way to wait
	}
	goleak.VerifyNone(t, before)
}
