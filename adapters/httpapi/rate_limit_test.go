package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
)

// A parent that has made as many children as its budget allows is answered
// as Gafaelfawr answers a request over its API quota: 403, with the real
// status, 429, and body in X-Error-Status and X-Error-Body for nginx, and
// Retry-After as an HTTP date.

func TestDelegateRefusesNewChildrenOverTheBudget(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	for i := range app.DefaultMaxChildrenPerParent {
		if resp, body := f.delegate(t, parent, fmt.Sprintf("delegate_to=service-%d", i)); resp.StatusCode != http.StatusOK {
			t.Fatalf("child %d: status %d, want 200; body %s", i+1, resp.StatusCode, body)
		}
	}
	const msg = "Rate limit of new child tokens (100/1h) exceeded"
	for _, query := range []string{"delegate_to=one-too-many", "notebook=true"} {
		resp, body := f.delegate(t, parent, query)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: status %d, want 403; body %s", query, resp.StatusCode, body)
		}
		for header, want := range map[string]string{
			"X-Error-Status": "429",
			"X-Error-Body":   `{"detail": [{"msg": "` + msg + `", "type": "rate_limited"}]}`,
			// Every child was made at the fixture's start; the first leaves
			// the hour's window a second after the hour.
			"Retry-After":      start.Add(time.Hour + time.Second).Format(http.TimeFormat),
			"WWW-Authenticate": "",
			"Cache-Control":    "no-cache, no-store",
		} {
			if got := resp.Header.Get(header); got != want {
				t.Errorf("%s: %s = %q, want %q", query, header, got, want)
			}
		}
		if got, want := strings.TrimSpace(body), `{"detail":[{"msg":"`+msg+`","type":"rate_limited"}]}`; got != want {
			t.Errorf("%s: body = %s, want %s", query, got, want)
		}
	}
	// The children it has are still handed out.
	if resp, body := f.delegate(t, parent, "delegate_to=service-0"); resp.StatusCode != http.StatusOK {
		t.Fatalf("an existing child: status %d, want 200; body %s", resp.StatusCode, body)
	}
	if n := len(f.repo.Children(parent.Key)); n != app.DefaultMaxChildrenPerParent {
		t.Fatalf("%d children recorded, want %d", n, app.DefaultMaxChildrenPerParent)
	}

	_, metrics := f.get(t, "", "/metrics")
	lines := strings.Split(metrics, "\n")
	for _, want := range []string{
		`tokencache_delegate_requests_total{outcome="rate_limited"} 2`,
		`tokencache_children_refused_total{token_type="internal"} 1`,
		`tokencache_children_refused_total{token_type="notebook"} 1`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("/metrics lacks the line %s", want)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "tokencache_store_errors_total{") && !strings.HasSuffix(l, " 0") {
			t.Errorf("/metrics counts a refusal as a store error: %s", l)
		}
	}
}

// budgetIssuer refuses every child with err.
type budgetIssuer struct{ err error }

func (i budgetIssuer) GetNotebookToken(context.Context, domain.TokenData, string, time.Duration) (domain.Token, error) {
	return domain.Token{}, i.err
}

func (i budgetIssuer) GetInternalToken(context.Context, domain.TokenData, string, []string, string, time.Duration) (domain.Token, error) {
	return domain.Token{}, i.err
}

func TestDelegateRateLimitAnswers(t *testing.T) {
	retryAt := time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		err       error
		msg       string
		retryWant string
	}{
		{
			name:      "minutes",
			err:       fmt.Errorf("creating: %w", &domain.TooManyChildrenError{Max: 20, Window: 15 * time.Minute, RetryAt: retryAt}),
			msg:       "Rate limit of new child tokens (20/15m) exceeded",
			retryWant: "Wed, 04 Mar 2026 06:00:00 GMT",
		},
		{
			name:      "odd window",
			err:       &domain.TooManyChildrenError{Max: 3, Window: 90 * time.Second, RetryAt: retryAt},
			msg:       "Rate limit of new child tokens (3/90s) exceeded",
			retryWant: "Wed, 04 Mar 2026 06:00:00 GMT",
		},
		{
			name: "a bound of zero: no time to retry",
			err:  &domain.TooManyChildrenError{Max: 0, Window: time.Hour},
			msg:  "Rate limit of new child tokens (0/1h) exceeded",
		},
		{
			name: "the bare sentinel",
			err:  fmt.Errorf("budget: %w", domain.ErrTooManyChildren),
			msg:  "Rate limit of new child tokens exceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, options{issuer: budgetIssuer{tt.err}})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			resp, body := f.delegate(t, parent, "delegate_to=portal")
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Error-Status") != "429" {
				t.Fatalf("status %d, X-Error-Status %q; want 403 and 429; body %s",
					resp.StatusCode, resp.Header.Get("X-Error-Status"), body)
			}
			if got, want := strings.TrimSpace(body), `{"detail":[{"msg":"`+tt.msg+`","type":"rate_limited"}]}`; got != want {
				t.Errorf("body = %s, want %s", got, want)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryWant {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryWant)
			}
		})
	}
}
