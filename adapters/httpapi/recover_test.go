package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

func TestPanicIsA500WithoutItsValue(t *testing.T) {
	f := newFixture(t, options{issuer: panickingIssuer{}})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)

	resp, body := f.delegate(t, parent, "notebook=true")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", resp.StatusCode)
	}
	checkDetail(t, body, "internal_error")
	if strings.Contains(body, "panic value") {
		t.Errorf("body %s shows the panic value", body)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"msg":"handler panicked"`) || !strings.Contains(logs, `"outcome":"internal"`) {
		t.Errorf("the log does not record the panic as an internal error: %s", logs)
	}
	// A panic value may quote anything, a token secret included.
	if strings.Contains(logs, "panic value") || strings.Contains(logs, parent.Secret) {
		t.Errorf("the log shows the panic value: %s", logs)
	}

	_, metrics := f.get(t, "", "/metrics")
	if want := `tokencache_delegate_requests_total{outcome="internal"} 1`; !slices.Contains(strings.Split(metrics, "\n"), want) {
		t.Errorf("/metrics lacks the line %s", want)
	}
}

// panickingIssuer panics with a value that quotes its parent's secret.
type panickingIssuer struct{}

func (panickingIssuer) GetNotebookToken(_ context.Context, parent domain.TokenData, _ string, _ time.Duration) (domain.Token, error) {
	panic("panic value " + parent.Token.Secret)
}

func (panickingIssuer) GetInternalToken(_ context.Context, parent domain.TokenData, _ string, _ []string, _ string, _ time.Duration) (domain.Token, error) {
	panic("panic value " + parent.Token.Secret)
}
