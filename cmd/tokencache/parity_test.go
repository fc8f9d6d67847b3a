package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// The daemon beside a live Gafaelfawr, on the same stores: it must answer
// as Gafaelfawr's /ingress/auth would, and reuse every child Gafaelfawr
// would reuse.

// gafaelfawrParent writes a user token of its own user as Gafaelfawr does,
// living from created to expires, with an email and one group, and returns
// it.
func (s *realStores) gafaelfawrParent(t *testing.T, scopes string, created, expires time.Time) (domain.Token, string) {
	t.Helper()
	tok, user := newGafaelfawrKey(t, "gfp")
	s.write(t, gafaelfawrToken{
		token: tok, username: user, tokenType: "user", scopes: scopes,
		created: created, expires: expires,
		json: fmt.Sprintf(`{"token": {"key": %q, "secret": %q}, "username": %q, "token_type": "user", `+
			`"scopes": %s, "created": %d, "expires": %d, "name": "Parity User", "email": "%s@example.com", `+
			`"uid": 4123, "gid": 4123, "groups": [{"name": "g_parity", "id": 4123}], "quota": null}`,
			tok.Key, tok.Secret, user, jsonList(scopes), created.Unix(), expires.Unix(), user),
	})
	return tok, user
}

// jsonList writes comma-separated scopes as a JSON list, with Python's
// spacing.
func jsonList(scopes string) string {
	if scopes == "" {
		return "[]"
	}
	return `["` + strings.Join(strings.Split(scopes, ","), `", "`) + `"]`
}

// getDelegate asks the daemon with a bearer token and returns the
// response, its body already read and closed.
func getDelegate(t *testing.T, d *daemon, parent domain.Token, query string) *http.Response {
	t.Helper()
	return d.delegate(t, http.DefaultClient, parent, query)
}

func TestDaemonMinimumLifetimeAsGafaelfawrIngress(t *testing.T) {
	s := newRealStores(t)
	d := startServe(t, s.env, "--listen", "127.0.0.1:0")
	now := time.Now().UTC().Truncate(time.Second)

	t.Run("a parent with less than 300 s left gets 401", func(t *testing.T) {
		parent, _ := s.gafaelfawrParent(t, "read:all", now.Add(-time.Hour), now.Add(180*time.Second))
		for _, query := range []string{"notebook=true", "delegate_to=parity-portal&delegate_scope=read:all"} {
			if resp := getDelegate(t, d, parent, query); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: status = %d, want 401 as Gafaelfawr's default minimum lifetime of 300 s asks", query, resp.StatusCode)
			}
		}
		if n := s.children(t, parent, "notebook", ""); n != 0 {
			t.Errorf("%d notebook children were made, want none", n)
		}
	})

	t.Run("minimum_lifetime below 300 is refused", func(t *testing.T) {
		parent, _ := s.gafaelfawrParent(t, "read:all", now.Add(-time.Hour), now.Add(48*time.Hour))
		for _, v := range []string{"0", "1", "120", "299"} {
			if resp := getDelegate(t, d, parent, "notebook=true&minimum_lifetime="+v); resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("minimum_lifetime=%s: status = %d, want 422", v, resp.StatusCode)
			}
		}
		if resp := getDelegate(t, d, parent, "notebook=true&minimum_lifetime=300"); resp.StatusCode != http.StatusOK {
			t.Errorf("minimum_lifetime=300: status = %d, want 200", resp.StatusCode)
		}
		if resp := getDelegate(t, d, parent, "notebook=true&delegate_to=parity-portal"); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("notebook with delegate_to: status = %d, want 422 as Gafaelfawr answers", resp.StatusCode)
		}
	})

	t.Run("a Gafaelfawr notebook child with 10 of 30 days left is reused", func(t *testing.T) {
		parent, user := s.gafaelfawrParent(t, "exec:notebook,read:all", now.Add(-20*24*time.Hour), now.Add(60*24*time.Hour))
		child, _ := newGafaelfawrKey(t, "unused")
		created, expires := now.Add(-20*24*time.Hour), now.Add(10*24*time.Hour)
		s.write(t, gafaelfawrToken{
			token: child, username: user, tokenType: "notebook", scopes: "exec:notebook,read:all",
			parent: parent.Key, created: created, expires: expires,
			json: fmt.Sprintf(`{"token": {"key": %q, "secret": %q}, "username": %q, "token_type": "notebook", `+
				`"scopes": ["exec:notebook", "read:all"], "created": %d, "expires": %d, "name": "Parity User", `+
				`"email": "%s@example.com", "uid": 4123, "gid": 4123, "groups": [{"name": "g_parity", "id": 4123}]}`,
				child.Key, child.Secret, user, created.Unix(), expires.Unix(), user),
		})
		if got := childOf(t, getDelegate(t, d, parent, "notebook=true")); got != child {
			t.Error("the daemon made a new notebook child where Gafaelfawr would reuse its own")
		}
		if n := s.children(t, parent, "notebook", ""); n != 1 {
			t.Errorf("the parent has %d notebook children, want 1", n)
		}
	})
}

func TestDaemonReusesInternalChildrenOfEveryGafaelfawrFormat(t *testing.T) {
	s := newRealStores(t)
	d := startServe(t, s.env, "--listen", "127.0.0.1:0")
	now := time.Now().UTC().Truncate(time.Second)
	parent, user := s.gafaelfawrParent(t, "read:all,read:tap", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	created, expires := now.Add(-time.Hour), now.Add(20*24*time.Hour)

	// The service is always in the row; only Gafaelfawr 12.0 and later
	// also write it into Redis.
	formats := []struct {
		name, service, json string
	}{
		{"before 9.4: spaced JSON with a quota, no service", "parity-v9",
			`{"username": %[3]q, "name": null, "email": null, "uid": null, "gid": null, "groups": null, ` +
				`"quota": null, "token_type": "internal", "scopes": ["read:all"], "created": %[4]d, ` +
				`"expires": %[5]d, "token": {"key": %[1]q, "secret": %[2]q}}`},
		{"11.x: compact JSON, no service", "parity-v11",
			`{"username":%[3]q,"name":"Parity User","email":null,"uid":4123,"gid":4123,` +
				`"groups":[{"name":"g_parity","id":4123}],"token_type":"internal","scopes":["read:all"],` +
				`"created":%[4]d,"expires":%[5]d,"token":{"key":%[1]q,"secret":%[2]q}}`},
		{"12.0 and later: compact JSON with the service", "parity-v12",
			`{"username":%[3]q,"name":"Parity User","email":null,"uid":4123,"gid":4123,` +
				`"groups":[{"name":"g_parity","id":4123}],"token_type":"internal","service":"parity-v12",` +
				`"scopes":["read:all"],"created":%[4]d,"expires":%[5]d,"token":{"key":%[1]q,"secret":%[2]q}}`},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			child, _ := newGafaelfawrKey(t, "unused")
			s.write(t, gafaelfawrToken{
				token: child, username: user, tokenType: "internal", service: f.service, scopes: "read:all",
				parent: parent.Key, created: created, expires: expires,
				json: fmt.Sprintf(f.json, child.Key, child.Secret, user, created.Unix(), expires.Unix()),
			})
			for i := range 2 { // the repository, then the in-process cache
				resp := getDelegate(t, d, parent, "delegate_to="+f.service+"&delegate_scope=read:all")
				if got := childOf(t, resp); got != child {
					t.Fatalf("request %d: the daemon made a new internal child where Gafaelfawr would reuse its own", i+1)
				}
			}
			if n := s.children(t, parent, "internal", f.service); n != 1 {
				t.Errorf("the parent has %d internal children for the service, want 1", n)
			}
		})
	}
}

func TestDaemonRefusesParentsGafaelfawrCannotRead(t *testing.T) {
	s := newRealStores(t)
	d := startServe(t, s.env, "--listen", "127.0.0.1:0")
	now := time.Now().UTC().Truncate(time.Second)
	parent, user := newGafaelfawrKey(t, "gfnull")
	s.write(t, gafaelfawrToken{
		token: parent, username: user, tokenType: "session", scopes: "read:all",
		created: now.Add(-time.Minute), expires: now.Add(time.Hour),
		json: fmt.Sprintf(`{"token": {"key": %q, "secret": %q}, "username": %q, "token_type": "session", `+
			`"scopes": ["read:all"], "created": %d, "expires": %d, "gid": 4123, `+
			`"groups": [{"name": "g_nullid", "id": null}]}`,
			parent.Key, parent.Secret, user, now.Add(-time.Minute).Unix(), now.Add(time.Hour).Unix()),
	})
	if resp := getDelegate(t, d, parent, "notebook=true"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a parent whose group has a null id: status = %d, want 401 as Gafaelfawr answers", resp.StatusCode)
	}
	if n := s.children(t, parent, "notebook", ""); n != 0 {
		t.Errorf("%d children were made of a parent Gafaelfawr cannot read, want none", n)
	}
}

func TestDaemonAllowedServices(t *testing.T) {
	s := newRealStores(t)
	d := startServe(t, s.env, "--listen", "127.0.0.1:0", "--allow-service", "parity-portal,parity-tap")
	now := time.Now().UTC().Truncate(time.Second)
	parent, _ := s.gafaelfawrParent(t, "read:all", now.Add(-time.Hour), now.Add(24*time.Hour))
	for _, c := range []struct {
		service string
		want    int
	}{
		{"parity-portal", http.StatusOK},
		{"parity-tap", http.StatusOK},
		{"parity-other", http.StatusForbidden},
	} {
		resp := getDelegate(t, d, parent, "delegate_to="+c.service+"&delegate_scope=read:all")
		if resp.StatusCode != c.want {
			t.Errorf("delegate_to=%s: status = %d, want %d", c.service, resp.StatusCode, c.want)
		}
	}
	if n := s.children(t, parent, "internal", "parity-other"); n != 0 {
		t.Errorf("a service not allowed got %d internal tokens, want none", n)
	}
}
