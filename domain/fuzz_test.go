package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// fuzzKey and fuzzSecret are the parts of a well-formed token that seeds
// the fuzzers.
const (
	fuzzKey    = "5KVApqcVbSQWtO3VIRgOhQ"
	fuzzSecret = "8t5XdPSYTrteD0pDB15zqQ"
)

// FuzzParseToken checks that ParseToken never panics, that what it accepts
// is a valid token whose String is the input, and that its errors wrap
// ErrInvalidToken and quote nothing token-like from the input.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{
		"", "gt-", "gt-.", "gt-" + fuzzKey + "." + fuzzSecret,
		"GT-" + fuzzKey + "." + fuzzSecret, fuzzKey + "." + fuzzSecret,
		"gt-" + fuzzKey + fuzzSecret, "gt-" + fuzzKey + "." + fuzzSecret + "\n",
		"gt-" + fuzzKey + "." + fuzzSecret + "." + fuzzSecret, "gt-" + fuzzKey[:21] + "+." + fuzzSecret,
		"gt-" + fuzzKey + "." + fuzzSecret[:21] + "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		token, err := domain.ParseToken(s)
		if want := wellFormedToken(s); (err == nil) != want {
			t.Fatalf("ParseToken(%q) error %v; a well-formed token: %v", s, err, want)
		}
		if err != nil {
			if !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("ParseToken(%q) error %v does not wrap ErrInvalidToken", s, err)
			}
			if token != (domain.Token{}) {
				t.Fatalf("ParseToken(%q) returned a token with its error", s)
			}
			if fragment, ok := leakedFragment(err.Error(), s); ok {
				t.Fatalf("ParseToken(%q) error %q quotes %q", s, err, fragment)
			}
			return
		}
		if err := token.Validate(); err != nil {
			t.Fatalf("ParseToken(%q) accepted a token that does not validate: %v", s, err)
		}
		if got := token.String(); got != s {
			t.Fatalf("ParseToken(%q).String() = %q", s, got)
		}
		if again, err := domain.ParseToken(token.String()); err != nil || again != token {
			t.Fatalf("ParseToken(String()) of %q = %+v, %v", s, again, err)
		}
	})
}

// wellFormedToken is a model of the token form, apart from ParseToken:
// "gt-", then 22 characters of URL-safe base64 without padding, ".", and 22
// more.
func wellFormedToken(s string) bool {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s) != len("gt-")+22+1+22 || s[:3] != "gt-" || s[3+22] != '.' {
		return false
	}
	for i, c := range []byte(s[3:]) {
		if i != 22 && strings.IndexByte(alphabet, c) < 0 {
			return false
		}
	}
	return true
}

// FuzzCacheKey checks that cache keys are injective: two requests share a
// key exactly when they are for the same kind of child of the same parent
// key and expiry (as an instant) and, for internal children, the same
// service and canonical scopes. It also checks that the order and
// repetition of the requested scopes make no difference.
//
// Each side's expiry is never, or the instant time.Unix(sec, nsec); its
// scopes are comma-separated, of which those Validate would refuse are
// dropped. A key that is not a token key is skipped, as Validate refuses
// it; the service is taken as it is, any bytes.
func FuzzCacheKey(f *testing.F) {
	later, second := int64(1_900_000_000), int64(time.Second)
	for _, seed := range []struct {
		notebookA, neverA bool
		keyA              string
		secA, nsecA       int64
		serviceA, scopesA string
		notebookB, neverB bool
		keyB              string
		secB, nsecB       int64
		serviceB, scopesB string
	}{
		{false, false, fuzzKey, later, 0, "portal", "read:all", false, false, fuzzKey, later, 0, "portal", "read:all"},
		{false, false, fuzzKey, later, 0, "portal", "user:token,read:all", false, false, fuzzKey, later - 1, second, "portal", "read:all,user:token,read:all"},
		{true, false, fuzzKey, later, 0, "", "", false, false, fuzzKey, later, 0, "", ""},
		{true, false, fuzzKey, 0, 0, "", "", true, true, fuzzKey, 0, 0, "", ""},
		{false, false, fuzzKey, later, 0, "a", "b", false, false, fuzzKey, later, 0, "b", "a"},
		{false, false, fuzzKey, later, 0, "b,a", "", false, false, fuzzKey, later, 0, "a", "b"},
		{false, false, fuzzKey, later, 0, "b\x00a", "", false, false, fuzzKey, later, 0, "a", "b"},
		{false, false, fuzzKey, later, 0, "\x00a", "b", false, false, fuzzKey, later, 0, "a\x00", "b"},
		{false, false, fuzzKey, later, 0, "notebook\x00" + fuzzKey, "", true, false, fuzzKey, later, 0, "", ""},
		{false, false, fuzzKey, later, 0, "portal", "read:all", false, false, fuzzSecret, later, 0, "portal", "read:all"},
		{false, false, fuzzKey, -1 << 62, 0, "portal", "", false, false, fuzzKey, 1 << 62, 0, "portal", ""},
	} {
		f.Add(seed.notebookA, seed.neverA, seed.keyA, seed.secA, seed.nsecA, seed.serviceA, seed.scopesA,
			seed.notebookB, seed.neverB, seed.keyB, seed.secB, seed.nsecB, seed.serviceB, seed.scopesB)
	}
	f.Fuzz(func(t *testing.T,
		notebookA, neverA bool, keyA string, secA, nsecA int64, serviceA, scopesA string,
		notebookB, neverB bool, keyB string, secB, nsecB int64, serviceB, scopesB string,
	) {
		if !domain.ValidTokenPart(keyA) || !domain.ValidTokenPart(keyB) {
			t.Skip("Validate refuses a parent whose key is not a token key")
		}
		a := fuzzRequest(t, notebookA, keyA, fuzzExpiry(neverA, secA, nsecA), serviceA, fuzzScopes(scopesA))
		b := fuzzRequest(t, notebookB, keyB, fuzzExpiry(neverB, secB, nsecB), serviceB, fuzzScopes(scopesB))
		if same, equal := sameChild(a, b), a.CacheKey() == b.CacheKey(); same != equal {
			t.Fatalf("same child: %v, same cache key: %v\na: %+v\nb: %+v\nkeys %q and %q",
				same, equal, describe(a), describe(b), a.CacheKey(), b.CacheKey())
		}
		// The same request with its scopes reversed and repeated.
		shuffled := slices.Concat(a.Scopes, a.Scopes)
		slices.Reverse(shuffled)
		again := fuzzRequest(t, notebookA, keyA, a.Parent.Expires, serviceA, shuffled)
		if again.CacheKey() != a.CacheKey() {
			t.Fatalf("scopes %q and %q give keys %q and %q", a.Scopes, shuffled, a.CacheKey(), again.CacheKey())
		}
	})
}

// fuzzRequest is a request for a notebook child, or an internal child for
// service and scopes, of a parent with key and expires.
func fuzzRequest(t *testing.T, notebook bool, key string, expires time.Time, service string, scopes []string) domain.ChildRequest {
	t.Helper()
	parent := testParent(t)
	parent.Token.Key = key
	parent.Expires = expires
	parent.Scopes = domain.CanonicalScopes(scopes)
	if notebook {
		return domain.NewNotebookRequest(parent, "192.0.2.1", 0)
	}
	return domain.NewInternalRequest(parent, service, scopes, "192.0.2.1", 0)
}

func fuzzExpiry(never bool, sec, nsec int64) time.Time {
	if never {
		return time.Time{}
	}
	return time.Unix(sec, nsec)
}

// fuzzScopes splits s at commas, keeping the scopes Validate accepts.
func fuzzScopes(s string) []string {
	return slices.DeleteFunc(strings.Split(s, ","), func(scope string) bool { return !domain.ValidScope(scope) })
}

// sameChild reports whether a and b ask for the same child, and so must
// share a cache key.
func sameChild(a, b domain.ChildRequest) bool {
	ea, eb := a.Parent.Expires, b.Parent.Expires
	switch {
	case a.Type != b.Type || a.Parent.Token.Key != b.Parent.Token.Key:
		return false
	case ea.IsZero() != eb.IsZero() || !ea.Equal(eb):
		return false
	case a.Type == domain.TokenTypeNotebook:
		// A notebook child's scopes are its parent's, whatever they are
		// now: they are checked on reuse, not keyed.
		return true
	}
	return a.Service == b.Service && slices.Equal(a.Scopes, b.Scopes)
}

// describe is what tells requests apart, for a failure message.
func describe(r domain.ChildRequest) string {
	var expires string
	if !r.Parent.Expires.IsZero() {
		expires = r.Parent.Expires.UTC().Format(time.RFC3339Nano)
	}
	return string(r.Type) + " key=" + r.Parent.Token.Key + " expires=" + expires +
		" service=" + strings.ToValidUTF8(r.Service, "?") + " scopes=" + strings.Join(r.Scopes, ",")
}

// leakWindow is the length of the shortest fragment of a token-like run
// that an error may not quote. No message here has a run of letters,
// digits, "-", "_", "+", "/" or "=" this long, so a message that holds one
// took it from its input.
const leakWindow = 16

// leakedFragment returns a fragment of input, leakWindow characters of a
// token-like run, that msg quotes, if there is one.
func leakedFragment(msg, input string) (string, bool) {
	run := 0
	for i := 0; i < len(input); i++ {
		if !tokenLikeByte(input[i]) {
			run = 0
			continue
		}
		run++
		if run >= leakWindow {
			if fragment := input[i+1-leakWindow : i+1]; strings.Contains(msg, fragment) {
				return fragment, true
			}
		}
	}
	return "", false
}

// tokenLikeByte reports whether c may be part of a token, its secret or a
// base64 credential that holds one.
func tokenLikeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '+' || c == '/' || c == '='
}
