package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// With no TokenLifetime in the handler's Config, the issuer checks the
// minimum lifetime (Config.TokenLifetime's doc). A minimum_lifetime past
// what a Duration holds is clamped to about 292 years, and the issuer's
// refusal then names the clamped value, not the one asked for.
func TestHugeMinimumLifetimeMessageWithoutHandlerTokenLifetime(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParentWith(t, "alice", nil, time.Hour, func(d *domain.TokenData) { d.Expires = time.Time{} })
	resp, body := f.delegate(t, parent, "delegate_to=svc&minimum_lifetime=10000000000")
	t.Logf("status %d body %s", resp.StatusCode, body)
	if resp.StatusCode != 422 || !strings.Contains(body, "10000000000") {
		t.Errorf("status %d, body %s; want a 422 naming the 10000000000 s asked for", resp.StatusCode, body)
	}
}
