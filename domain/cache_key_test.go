package domain_test

import (
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// TestCacheKeysDiffer builds one request for each way two children can
// differ and checks that no two of them share a key. The adversarial
// services try to make one (scopes, service) split look like another.
func TestCacheKeysDiffer(t *testing.T) {
	parent := testParent(t)

	laterParent := parent
	laterParent.Expires = parent.Expires.Add(time.Second)
	eternalParent := parent
	eternalParent.Expires = time.Time{}
	epochParent := parent // expires at Unix time 0, which is not "never"
	epochParent.Expires = time.Unix(0, 0)
	otherParent := parent
	otherParent.Token = testToken(t, 2)

	internal := func(p domain.TokenData, service string, scopes ...string) domain.ChildRequest {
		return domain.NewInternalRequest(p, service, scopes, "192.0.2.1", 0)
	}
	notebook := func(p domain.TokenData) domain.ChildRequest {
		return domain.NewNotebookRequest(p, "192.0.2.1", 0)
	}

	notebookReq := notebook(parent)
	notebookKey := notebookReq.CacheKey()
	requests := []struct {
		name string
		req  domain.ChildRequest
	}{
		{"notebook", notebook(parent)},
		{"notebook, parent expires a second later", notebook(laterParent)},
		{"notebook, parent never expires", notebook(eternalParent)},
		{"notebook, parent expires at the epoch", notebook(epochParent)},
		{"notebook, other parent", notebook(otherParent)},

		{"internal", internal(parent, "portal", "read:all")},
		{"internal, parent expires a second later", internal(laterParent, "portal", "read:all")},
		{"internal, parent never expires", internal(eternalParent, "portal", "read:all")},
		{"internal, parent expires at the epoch", internal(epochParent, "portal", "read:all")},
		{"internal, other parent", internal(otherParent, "portal", "read:all")},
		{"internal, other service", internal(parent, "tap", "read:all")},
		{"internal, more scopes", internal(parent, "portal", "read:all", "user:token")},
		{"internal, other scope", internal(parent, "portal", "user:token")},
		{"internal, no scopes", internal(parent, "portal")},

		{`service "a", scopes [b]`, internal(parent, "a", "b")},
		{`service "b", scopes [a]`, internal(parent, "b", "a")},
		{`service "a", scopes [b c]`, internal(parent, "a", "b", "c")},
		{`service "b,a", no scopes`, internal(parent, "b,a")},
		{`service "c", scopes [a b]`, internal(parent, "c", "a", "b")},
		{`service "b,c", scopes [a]`, internal(parent, "b,c", "a")},
		{`service "b\x00a", no scopes`, internal(parent, "b\x00a")},
		{`service "\x00a", scopes [b]`, internal(parent, "\x00a", "b")},
		{`service "a\x00", scopes [b]`, internal(parent, "a\x00", "b")},
		{`service "c\x00b", scopes [a]`, internal(parent, "c\x00b", "a")},
		{`service "b\x00c", scopes [a]`, internal(parent, "b\x00c", "a")},
		{`service "\x00", no scopes`, internal(parent, "\x00")},
		{`service ",", no scopes`, internal(parent, ",")},
		{"service holding the notebook key", internal(parent, string(notebookKey))},
	}

	seen := make(map[domain.CacheKey]string)
	for _, r := range requests {
		key := r.req.CacheKey()
		if other, ok := seen[key]; ok {
			t.Errorf("%s and %s share the cache key %q", other, r.name, key)
		}
		seen[key] = r.name
	}
}

func TestCacheKeysEqual(t *testing.T) {
	parent := testParent(t)

	otherZone := parent
	otherZone.Expires = parent.Expires.In(time.FixedZone("UTC-7", -7*60*60))
	otherScopes := parent
	otherScopes.Scopes = []string{"read:all"}
	otherUser := parent
	otherUser.Name, otherUser.Email, otherUser.UID, otherUser.Groups = "", "", 0, nil

	tests := []struct {
		name string
		a, b domain.ChildRequest
	}{
		{
			name: "same notebook request",
			a:    domain.NewNotebookRequest(parent, "192.0.2.1", 0),
			b:    domain.NewNotebookRequest(parent, "192.0.2.1", 0),
		},
		{
			name: "same internal request",
			a:    domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 0),
			b:    domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 0),
		},
		{
			name: "scope order",
			a:    domain.NewInternalRequest(parent, "portal", []string{"user:token", "read:all"}, "192.0.2.1", 0),
			b:    domain.NewInternalRequest(parent, "portal", []string{"read:all", "user:token"}, "192.0.2.1", 0),
		},
		{
			name: "duplicate scopes",
			a:    domain.NewInternalRequest(parent, "portal", []string{"read:all", "read:all"}, "192.0.2.1", 0),
			b:    domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 0),
		},
		{
			name: "internal: IP address and minimum lifetime",
			a:    domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 0),
			b:    domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "2001:db8::1", time.Hour),
		},
		{
			name: "notebook: IP address and minimum lifetime",
			a:    domain.NewNotebookRequest(parent, "192.0.2.1", 0),
			b:    domain.NewNotebookRequest(parent, "2001:db8::1", time.Hour),
		},
		{
			name: "parent expiry in another time zone",
			a:    domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 0),
			b:    domain.NewInternalRequest(otherZone, "portal", []string{"read:all"}, "192.0.2.1", 0),
		},
		{
			name: "notebook: parent's scopes",
			a:    domain.NewNotebookRequest(parent, "192.0.2.1", 0),
			b:    domain.NewNotebookRequest(otherScopes, "192.0.2.1", 0),
		},
		{
			name: "parent's user information",
			a:    domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 0),
			b:    domain.NewInternalRequest(otherUser, "portal", []string{"read:all"}, "192.0.2.1", 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, b := tt.a.CacheKey(), tt.b.CacheKey(); a != b {
				t.Errorf("cache keys differ: %q and %q", a, b)
			}
		})
	}
}

func TestCacheKeyFunctionsMatchRequests(t *testing.T) {
	parent := testParent(t)
	notebook := domain.NewNotebookRequest(parent, "192.0.2.1", 0)
	if got, want := notebook.CacheKey(), domain.NotebookCacheKey(parent); got != want {
		t.Errorf("notebook request's key %q, want NotebookCacheKey's %q", got, want)
	}
	internal := domain.NewInternalRequest(parent, "portal", []string{"user:token", "read:all"}, "192.0.2.1", 0)
	want := domain.InternalCacheKey(parent, "portal", []string{"read:all", "user:token"})
	if got := internal.CacheKey(); got != want {
		t.Errorf("internal request's key %q, want InternalCacheKey's %q", got, want)
	}
}

func TestCacheKeysAllocateOnce(t *testing.T) {
	p := testParent(t)
	scopes := []string{"read:all", "read:tap"}
	if n := testing.AllocsPerRun(100, func() { domain.NotebookCacheKey(p) }); n != 1 {
		t.Errorf("NotebookCacheKey allocates %v times, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { domain.InternalCacheKey(p, "portal", scopes) }); n != 1 {
		t.Errorf("InternalCacheKey allocates %v times, want 1", n)
	}
}
