package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// TestQueryReadAsGafaelfawrReadsIt: the query is read as Starlette reads
// it for Gafaelfawr (parseQuery), so what Python keeps as text is text
// here too: a value Gafaelfawr cannot use is refused where it is read,
// before the credentials are, and one it ignores does not matter.
func TestQueryReadAsGafaelfawrReadsIt(t *testing.T) {
	for _, query := range []string{
		"notebook=true&minimum_lifetime=7200%",
		"notebook=true&minimum_lifetime=7200;x",
	} {
		t.Run(query, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, 3*time.Hour)
			for _, authorization := range []string{"Bearer " + parent.String(), ""} {
				resp, body := f.get(t, authorization, "/auth/delegate?"+query)
				if resp.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("status = %d, want 422; body %s", resp.StatusCode, body)
				}
				checkDetail(t, body, "invalid_parameter")
				checkLoc(t, body, "query", "minimum_lifetime")
			}
			if f.repo.Len() != 1 {
				t.Error("a refused query made a child")
			}
		})
	}
	for _, tt := range []struct {
		query, wantService string // "": a notebook child, or none
	}{
		{"scope=read:all&comment=100%", ""},
		{"notebook=true&%zz", ""},
		{"delegate_to=portal%2", "portal%2"},
		{"delegate_to=port%FFal", "port\ufffdal"},
		{"delegate_to=caf%E9", "caf\ufffd"},
		{"delegate_to=a;b", "a;b"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, 3*time.Hour)
			resp, body := f.delegate(t, parent, tt.query)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200 as Gafaelfawr; body %s", resp.StatusCode, body)
			}
			if tt.wantService != "" {
				if got := f.childData(t, resp).Service; got != tt.wantService {
					t.Errorf("child's service = %+q, want %+q", got, tt.wantService)
				}
			}
		})
	}
}

// TestDelegateToMustBeVisible: a service name that does not read as what
// it is, is refused.
func TestDelegateToMustBeVisible(t *testing.T) {
	tests := map[string]string{
		"NEL":                        "portal\u0085",
		"right-to-left override":     "\u202elatrop",
		"zero-width space":           "por\u200btal",
		"byte-order mark":            "\ufeffportal",
		"no-break space":             "por\u00a0tal",
		"ideographic space":          "portal\u3000",
		"a lone space":               " ",
		"leading space":              " portal",
		"trailing space":             "portal ",
		"a tab":                      "por\ttal",
		"private use":                "portal\ue000",
		"line separator":             "portal\u2028",
		"DEL":                        "portal\x7f",
		"plus as a space, leading":   "+portal",
		"encoded space, trailing":    "portal%20",
		"encoded NUL":                "portal%00",
		"encoded right-to-left mark": "portal%E2%80%8F",
	}
	for name, service := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			raw := service
			if !slices.Contains([]string{"plus as a space, leading", "encoded space, trailing", "encoded NUL",
				"encoded right-to-left mark"}, name) {
				raw = url.QueryEscape(service)
			}
			resp, body := f.delegate(t, parent, "delegate_to="+raw+"&delegate_scope=read:all")
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422; body %s", resp.StatusCode, body)
			}
			checkDetail(t, body, "invalid_parameter")
			checkLoc(t, body, "query", "delegate_to")
			if f.repo.Len() != 1 {
				t.Error("a refused request made a child")
			}
		})
	}
	for name, service := range map[string]string{
		"inner space": "my portal", "accented": "portál", "punctuation": "vo-cutouts_2.x",
	} {
		t.Run("accepted: "+name, func(t *testing.T) {
			f := newFixture(t, options{})
			parent := f.mintParent(t, "alice", parentScopes, time.Hour)
			resp, body := f.delegate(t, parent, "delegate_to="+url.QueryEscape(service))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, body)
			}
			if got := f.childData(t, resp).Service; got != service {
				t.Errorf("child's service = %q, want %q", got, service)
			}
		})
	}
}

// checkLoc checks that an error body's one detail has loc want.
func checkLoc(t *testing.T, body string, want ...string) {
	t.Helper()
	var b struct{ Detail []struct{ Loc []string } }
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Detail) != 1 || !slices.Equal(b.Detail[0].Loc, want) {
		t.Errorf("body = %s, want loc %q", body, want)
	}
}

// TestDelegateToLongerThanANameIsAParameterError: delegate_to longer than
// the stores take is a 422 naming it, before credentials are checked or a
// store is read, as the other parameter errors are.
func TestDelegateToLongerThanANameIsAParameterError(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	long := strings.Repeat("a", domain.MaxNameLength+1)
	for name, authorization := range map[string]string{"valid token": "Bearer " + parent.String(), "no credentials": ""} {
		t.Run(name, func(t *testing.T) {
			resp, body := f.get(t, authorization, "/auth/delegate?delegate_to="+long)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d, want 422; body %s", resp.StatusCode, body)
			}
			checkDetail(t, body, "invalid_parameter")
			checkLoc(t, body, "query", "delegate_to")
		})
	}
	// Characters, not bytes, as the stores count them.
	longest := strings.Repeat("é", domain.MaxNameLength)
	if resp, body := f.delegate(t, parent, "delegate_to="+url.QueryEscape(longest)); resp.StatusCode != http.StatusOK {
		t.Errorf("a service of %d characters: status %d, want 200; body %s", domain.MaxNameLength, resp.StatusCode, body)
	}
}

// TestServiceParameterMustMatchDelegateTo: Gafaelfawr's service parameter
// (for its rate limits and metrics, which tokencache does not offer) is
// refused when it names another service than delegate_to, as Gafaelfawr
// refuses it (auth_config, InvalidServiceError), and otherwise ignored.
func TestServiceParameterMustMatchDelegateTo(t *testing.T) {
	f := newFixture(t, options{})
	parent := f.mintParent(t, "alice", parentScopes, time.Hour)
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"service=other&delegate_to=portal&delegate_scope=read:all", http.StatusUnprocessableEntity},
		{"service=portal&delegate_to=portal&delegate_scope=read:all", http.StatusOK},
		{"service=portal&notebook=true", http.StatusOK},
		{"service=portal", http.StatusOK},
		{"service=&delegate_to=portal", http.StatusOK},
	} {
		resp, body := f.delegate(t, parent, tt.query)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d; body %s", tt.query, resp.StatusCode, tt.want, body)
			continue
		}
		if tt.want != http.StatusOK {
			checkDetail(t, body, "invalid_service")
			checkLoc(t, body, "query", "delegate_to")
		}
	}
}
