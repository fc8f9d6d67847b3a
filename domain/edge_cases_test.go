package domain_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

func TestCacheKeySubSecondParentExpiryDiffers(t *testing.T) {
	p := testParent(t)
	q := p
	q.Expires = p.Expires.Add(300 * time.Millisecond)
	if domain.NotebookCacheKey(p) == domain.NotebookCacheKey(q) {
		t.Fatal("parent expiries 0.3 s apart give the same key")
	}
}

func TestValidateRejectsZonedIPAddress(t *testing.T) {
	req := domain.NewNotebookRequest(testParent(t), "fe80::1%eth0", 0)
	if err := req.Validate(testNow, testLifetime); !errors.Is(err, domain.ErrInvalidRequest) {
		t.Fatalf("err = %v, want ErrInvalidRequest", err)
	}
}

func TestValidateRejectsOtherRequestTypes(t *testing.T) {
	tests := map[string]domain.ChildRequest{
		"SessionType": func() domain.ChildRequest {
			r := domain.NewInternalRequest(testParent(t), "portal", []string{"read:all"}, "192.0.2.1", 0)
			r.Type = domain.TokenTypeSession
			return r
		}(),
		"NotebookWithService": func() domain.ChildRequest {
			r := domain.NewNotebookRequest(testParent(t), "192.0.2.1", 0)
			r.Service = "portal"
			return r
		}(),
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			if err := req.Validate(testNow, testLifetime); !errors.Is(err, domain.ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestChildTimesRoundsCappedExpiryDown(t *testing.T) {
	p := testParent(t)
	p.Expires = testNow.Add(time.Hour + 700*time.Millisecond)
	_, expires := domain.ChildTimes(p, testNow, testLifetime)
	if want := testNow.Add(time.Hour); !expires.Equal(want) {
		t.Fatalf("expires = %v, want %v (whole seconds, not after the parent)", expires, want)
	}
}

// Gafaelfawr reads a comma-separated string of scopes as
// set(v.split(",")), the empty string as no scopes: an empty part is a
// scope of its own. The answers are Python's.
func TestSplitScopesKeepsEmptyPartsAsGafaelfawrDoes(t *testing.T) {
	for s, want := range map[string][]string{
		"":      {},
		",":     {""},
		"b,,a,": {"", "a", "b"},
		",a":    {"", "a"},
		"a,a":   {"a"},
	} {
		if got := domain.SplitScopes(s); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitScopes(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestEmptySecretMatchesNothing(t *testing.T) {
	if (domain.Token{}).SecretMatches(domain.Token{}) {
		t.Fatal("two empty secrets match")
	}
}

// A parent expiring at a fraction of a second caps its children at the
// whole second before; the rules that compare against its expiry must use
// the same cap, or a capped child could never satisfy them.
func TestFractionalParentExpiryUsesTheChildCap(t *testing.T) {
	p := testParent(t)
	p.Expires = testNow.Add(time.Hour + 700*time.Millisecond)
	capped := testNow.Add(time.Hour)

	t.Run("MinimumExpiration", func(t *testing.T) {
		if got := domain.MinimumExpiration(p, testNow, 0, testLifetime); !got.Equal(capped) {
			t.Fatalf("MinimumExpiration = %v, want the capped %v, which the child gets", got, capped)
		}
	})
	t.Run("AcceptedRequestsGetReusableChildren", func(t *testing.T) {
		// Otherwise every such request would make another child.
		req := domain.NewNotebookRequest(p, "192.0.2.1", time.Hour)
		for _, d := range []time.Duration{0, time.Millisecond, 300 * time.Millisecond, 699 * time.Millisecond} {
			now := testNow.Add(d)
			if err := req.Validate(now, testLifetime); err != nil {
				continue
			}
			child := req.NewChild(testToken(t, 2), now, testLifetime)
			if !req.Reusable(&child, now, testLifetime) {
				t.Errorf("at now+%v the request is accepted, but the child made for it is not reusable", d)
			}
		}
	})
	t.Run("InsufficientLifetime", func(t *testing.T) {
		// The parent outlives the minimum by 0.2 s, but no child can.
		req := domain.NewNotebookRequest(p, "192.0.2.1", time.Hour+500*time.Millisecond)
		if err := req.Validate(testNow, testLifetime); !errors.Is(err, domain.ErrInsufficientLifetime) {
			t.Fatalf("err = %v, want ErrInsufficientLifetime", err)
		}
	})
	t.Run("ExpiresWithinASecond", func(t *testing.T) {
		// 1.4 s left, but a child could live only 0.7 s.
		req := domain.NewNotebookRequest(p, "192.0.2.1", 0)
		if err := req.Validate(capped.Add(-time.Second+300*time.Millisecond), testLifetime); !errors.Is(err, domain.ErrInvalidToken) {
			t.Fatalf("err = %v, want ErrInvalidToken", err)
		}
	})
}

func TestMalformedParentIsOnlyAnInvalidRequest(t *testing.T) {
	req := domain.NewNotebookRequest(testParent(t), "192.0.2.1", 0)
	req.Parent.Token.Key = "short"
	err := req.Validate(testNow, testLifetime)
	if !errors.Is(err, domain.ErrInvalidRequest) || errors.Is(err, domain.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidRequest and not ErrInvalidToken", err)
	}
	if want := "invalid request: parent token key is not 22 characters of URL-safe base64"; err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
}

func TestValidateNamesFitTheStores(t *testing.T) {
	long := strings.Repeat("s", domain.MaxNameLength+1)
	longest := strings.Repeat("é", domain.MaxNameLength)
	tests := map[string]struct {
		username, service string
		ok                bool
	}{
		"LongestService":     {"alice", longest, true},
		"ServiceTooLong":     {"alice", long, false},
		"ServiceWithNUL":     {"alice", "por\x00tal", false},
		"ServiceWithNewline": {"alice", "portal\n", false},
		"ServiceNotUTF8":     {"alice", "port\xffal", false},
		"UsernameTooLong":    {long, "portal", false},
		"UsernameWithTab":    {"ali\tce", "portal", false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := testParent(t)
			p.Username = tt.username
			req := domain.NewInternalRequest(p, tt.service, []string{"read:all"}, "192.0.2.1", 0)
			err := req.Validate(testNow, testLifetime)
			if tt.ok && err != nil {
				t.Fatalf("err = %v, want none", err)
			}
			if !tt.ok && !errors.Is(err, domain.ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
}
