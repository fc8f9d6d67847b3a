package domain_test

import (
	"errors"
	"reflect"
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

func TestSplitScopesDropsEmptyParts(t *testing.T) {
	if got := domain.SplitScopes("b,,a,"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("SplitScopes = %q", got)
	}
}

func TestEmptySecretMatchesNothing(t *testing.T) {
	if (domain.Token{}).SecretMatches(domain.Token{}) {
		t.Fatal("two empty secrets match")
	}
}
