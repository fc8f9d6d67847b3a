package httpapi_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzDelegateFromMemory sends the same request twice, whatever its query
// and however it presents the parent, to a handler whose stores say they
// hold everything in process memory and to one whose stores do not: the
// second request is the one served from memory, where the first made a
// child. Both answers must be the same on both handlers.
func FuzzDelegateFromMemory(f *testing.F) {
	for _, seed := range []struct {
		query string
		how   uint8
	}{
		{"delegate_to=portal&delegate_scope=read:all", 0},
		{"notebook=true", 1},
		{"notebook=true&minimum_lifetime=3600", 2},
		{"delegate_to=portal&delegate_scope=read:all&delegate_scope=exec:notebook&scope=read:all&satisfy=any", 3},
		{"scope=admin:token&auth_type=basic", 0},
		{"delegate_to=portal&use_authorization=true&minimum_lifetime=7000", 0},
		{"notebook=true&delegate_to=portal", 0},
		{"delegate_to=portal&delegate_scope=read:all&username=alice", 0},
		{"delegate_to=portal&delegate_scope=read:all&username=bob", 4},
	} {
		f.Add(seed.query, seed.how)
	}
	f.Fuzz(func(t *testing.T, query string, how uint8) {
		fromMemory, _, fromStores := newParityFixtures(t)
		ask := func(fx *fixture) []string {
			a := newAnswerer(fx)
			parent := fx.mintParent(t, "alice", []string{"read:all", "exec:notebook"}, 2*time.Hour)
			a.name(parent.String())
			var answers []string
			for range 2 {
				req := httptest.NewRequest(http.MethodGet, "/auth/delegate", nil)
				req.URL.RawQuery = query
				switch how % 5 {
				case 0:
					req.Header.Set("Authorization", "Bearer "+parent.String())
				case 1:
					req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(parent.String()+":x-oauth-basic")))
				case 2:
					req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("x-oauth-basic:"+parent.String())))
				case 3:
					req.Header.Set("Cookie", "gafaelfawr="+fx.cookie(t, parent))
				case 4:
					req.Header.Set("Authorization", "Bearer "+parent.String())
					req.Header.Set("X-Requested-With", "XMLHttpRequest")
				}
				answers = append(answers, a.answer(t, req))
			}
			return answers
		}
		a, b := ask(fromStores), ask(fromMemory)
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("request %d of %q (%d):\nfrom the stores: %s\nfrom memory:     %s", i, query, how%5, a[i], b[i])
			}
		}
	})
}
