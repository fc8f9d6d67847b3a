package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// TestMalformedQuery: what url.URL.Query would silently drop is refused,
// before the credentials are read.
func TestMalformedQuery(t *testing.T) {
	for _, query := range []string{
		"notebook=true&minimum_lifetime=7200%",
		"notebook=true&minimum_lifetime=7200;x",
		"notebook=true&%zz",
		"delegate_to=portal%2",
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
				checkLoc(t, body, "query")
			}
			if f.repo.Len() != 1 {
				t.Error("a malformed query made a child")
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
		"invalid UTF-8":              "port\xffal",
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
