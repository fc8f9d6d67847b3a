package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// sumSeries adds up the values of the lines of body that start with prefix.
func sumSeries(body, prefix string) float64 {
	total := 0.0
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}

// Every answer of /auth/delegate is counted in
// tokencache_delegate_requests_total, the 405 to another method too.
func TestEveryDelegateAnswerIsCounted(t *testing.T) {
	f := newFixture(t, options{})
	for _, m := range []string{http.MethodPost, http.MethodHead, http.MethodPut} {
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, httptest.NewRequest(m, "/auth/delegate?notebook=true", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("%s: %d", m, rec.Code)
		}
	}
	_, body := f.get(t, "", "/metrics")
	if n := sumSeries(body, "tokencache_delegate_requests_total{"); n != 3 {
		t.Errorf("tokencache_delegate_requests_total sums to %v after 3 answers (405) from /auth/delegate, want 3", n)
	}
	if n := sumSeries(body, "tokencache_delegate_duration_seconds_count"); n != 3 {
		t.Errorf("tokencache_delegate_duration_seconds_count = %v after 3 answers from /auth/delegate, want 3", n)
	}
}

// tokencache_store_errors_total is served from the start, at zero for
// each operation the service names, as every other counter is: a series
// that first appears at 1 hides that first failure from rate() and
// increase().
func TestStoreErrorsServedFromTheStart(t *testing.T) {
	f := newFixture(t, options{})
	_, body := f.get(t, "", "/metrics")
	for _, op := range []string{"token_store.get_parent", "token_store.get", "token_store.store", "repository.find"} {
		want := `tokencache_store_errors_total{operation="` + op + `"} 0`
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s before the first failure", want)
		}
	}
}

// latePanicIssuer panics once the request's deadline has passed, as a bug met
// only on a slow path would.
type latePanicIssuer struct{ done chan struct{} }

func (i latePanicIssuer) GetNotebookToken(ctx context.Context, _ domain.TokenData, _ string, _ time.Duration) (domain.Token, error) {
	<-ctx.Done()
	time.Sleep(20 * time.Millisecond)
	defer close(i.done)
	panic("bug on the slow path")
}

func (i latePanicIssuer) GetInternalToken(ctx context.Context, p domain.TokenData, _ string, _ []string, ip string, m time.Duration) (domain.Token, error) {
	return i.GetNotebookToken(ctx, p, ip, m)
}

// A panic in the detached work of a request that has already been answered
// (timeout) reaches the log, as a panic in the service's own detached
// work does ("work on a token panicked after its caller had left").
func TestLatePanicIsLogged(t *testing.T) {
	iss := latePanicIssuer{done: make(chan struct{})}
	f := newFixture(t, options{issuer: iss, timeout: 50 * time.Millisecond})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	resp, _ := f.delegate(t, parent, "notebook=true")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-iss.done
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(f.logs.String(), "panicked"); {
		if time.Now().After(deadline) {
			t.Fatalf("a panic after the answer left no trace in the log:\n%s", f.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(f.logs.String(), "bug on the slow path") {
		t.Errorf("the log quotes the panic value:\n%s", f.logs.String())
	}
}
