package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/adapters/statecookie"
	"github.com/tokencache/tokencache/domain"
)

// The fuzz targets here call the request parsers directly: what they are
// given is what a client controls. Their seeds are beside the f.Add calls
// in testdata/fuzz.

// fuzzSessionSecret seals the state cookies of the fuzz targets; the seed
// corpus holds cookies sealed with it.
const fuzzSessionSecret = "dG9rZW5jYWNoZSBmdXp6IHNlc3Npb24gc2VjcmV0ISE="

const fuzzToken = "gt-5KVApqcVbSQWtO3VIRgOhQ.8t5XdPSYTrteD0pDB15zqQ"

// FuzzDelegateQuery checks that any query string is either refused with a
// 422 that quotes nothing token-like from it, or read into parameters
// that keep the rules: a visible delegate_to, valid scopes, a minimum
// lifetime of at least Gafaelfawr's when delegating, never a notebook
// with a service.
func FuzzDelegateQuery(f *testing.F) {
	for _, raw := range []string{
		"", "notebook=true", "delegate_to=portal&delegate_scope=read:all,user:token",
		"delegate_to=portal&minimum_lifetime=7200", "minimum_lifetime=7200%", "minimum_lifetime=7200;x",
		"delegate_to=%zz", "delegate_to=portal%C2%85", "delegate_to=%E2%80%AElatrop", "delegate_to=%E2%80%8B",
		"delegate_to=+", "delegate_to=my+portal", "notebook=true&delegate_to=portal",
		"scope=read:all&scope=exec:notebook&satisfy=any&auth_type=basic", "scope=a,b",
		"use_authorization=yes&allow_cookies=OFF&username=alice&only_service=portal&only_service=tap",
		"user_domain=true", "delegate_to=a&delegate_to=b", "minimum_lifetime=9223372036854775807",
		"minimum_lifetime=-300", "delegate_to=" + fuzzToken,
	} {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, p := parseQuery(raw)
		if p == nil {
			var params delegateParams
			if params, p = parseDelegateParams(q); p == nil {
				checkParams(t, raw, q, params)
				return
			}
		}
		if p.status != http.StatusUnprocessableEntity || len(p.loc) == 0 || p.loc[0] != "query" {
			t.Fatalf("query %q: status %d, loc %q; want a 422 about the query", raw, p.status, p.loc)
		}
		checkQuotesNothing(t, p, raw)
	})
}

// checkParams fails t if params, read from the query q, break a rule.
func checkParams(t *testing.T, raw string, q url.Values, params delegateParams) {
	t.Helper()
	if params.service != "" && (!domain.VisibleName(params.service) || params.service != q["delegate_to"][0]) {
		t.Fatalf("query %q: delegate_to read as %+q", raw, params.service)
	}
	if params.notebook && params.service != "" {
		t.Fatalf("query %q: a notebook token for service %+q", raw, params.service)
	}
	for _, s := range slices.Concat(params.scopes, params.required) {
		if !domain.ValidScope(s) {
			t.Fatalf("query %q: scope %+q accepted", raw, s)
		}
	}
	if m := params.minimumLifetime; m != 0 && m < gafaelfawrMinimumLifetime || params.delegating() && m == 0 {
		t.Fatalf("query %q: minimum lifetime %v", raw, m)
	}
	if params.scheme != schemeBearer && params.scheme != schemeBasic {
		t.Fatalf("query %q: challenge scheme %q", raw, params.scheme)
	}
}

// FuzzCredential checks that whatever Authorization and Cookie headers a
// request holds, credential does not panic, its problems quote nothing
// token-like from them, and a token it finds is a well-formed one that
// the headers passed on to the application no longer carry.
func FuzzCredential(f *testing.F) {
	codec := fuzzCodec(f)
	token, err := domain.ParseToken(fuzzToken)
	if err != nil {
		f.Fatal(err)
	}
	cookie, err := codec.Encode(token)
	if err != nil {
		f.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	for _, seed := range []struct {
		auth1, auth2, cookie string
		allowCookies         bool
	}{
		{"", "", "", true},
		{"Bearer " + fuzzToken, "", "", true},
		{"bearer\t" + fuzzToken + " ", "", "", true},
		{"Bearer " + fuzzToken, "junk", "", true},
		{"junk", "Bearer " + fuzzToken, "", true},
		{"Bearer", "", "", true},
		{"Bearer gt-short.token", "", "", true},
		{"Bearer " + fuzzToken[:len(fuzzToken)-1], "", "", true},
		{"Bearer " + fuzzToken + "=", "", "", true},
		{"Bearer " + strings.TrimPrefix(fuzzToken, "gt-"), "", "", true},
		{"Basic " + b64([]byte(fuzzToken+":x-oauth-basic")), "", "", true},
		{"Basic " + b64([]byte("x-oauth-basic:"+fuzzToken)), "", "", true},
		{"Basic " + b64([]byte(fuzzToken+":"+fuzzToken)), "", "", true},
		{"Basic " + b64([]byte(fuzzToken+":gt-AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA")), "", "", true},
		{"Basic " + b64([]byte("user:pass:word")), "", "", true},
		{"Basic !!" + b64([]byte("a:" + fuzzToken))[:10] + "=", "", "", true},
		{"Basic " + b64([]byte{0xff, ':', 'x'}), "", "", true},
		{"Digest " + fuzzToken, "", "", true},
		{"", "", statecookie.Name + "=" + cookie, true},
		{"Bearer " + fuzzToken, "", statecookie.Name + "=" + cookie, false},
		{"", "", "a=1; " + statecookie.Name + "=\"" + cookie + "\" ;b=2", true},
		{"", "", statecookie.Name + "=" + cookie[:len(cookie)-4], true},
		{"", "", statecookie.Name + "=" + fuzzToken, true},
		// Trimmed by Python's str.strip, and so by the parse.
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("x-oauth-basic:"+fuzzToken+"\x1f")), "", "", false},
	} {
		f.Add(seed.auth1, seed.auth2, seed.cookie, seed.allowCookies)
	}
	h := &delegateHandler{cookies: codec}
	f.Fuzz(func(t *testing.T, auth1, auth2, cookie string, allowCookies bool) {
		r := &http.Request{Header: http.Header{}}
		for _, a := range []string{auth1, auth2} {
			if a != "" {
				r.Header.Add("Authorization", a)
			}
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		token, source, p := h.credential(r, delegateParams{allowCookies: allowCookies})
		if p != nil {
			checkQuotesNothing(t, p, auth1, auth2, cookie, decodedBasic(auth1), decodedBasic(auth2))
			return
		}
		if err := token.Validate(); err != nil {
			t.Fatalf("credential found a malformed token: %v", err)
		}
		if again, err := domain.ParseToken(token.String()); err != nil || again != token {
			t.Fatalf("the token found does not round-trip through String: %v", err)
		}
		switch source {
		case fromCookie:
			if !allowCookies {
				t.Fatal("credential read the cookie with allow_cookies=false")
			}
			if kept := withoutStateCookie(cookie); hasStateCookie(kept) {
				t.Fatalf("Cookie header %q passed on as %q, with the state cookie", cookie, kept)
			}
		case fromAuthorization:
			if auth1 != "" && auth2 != "" {
				t.Fatal("credential read one of two Authorization headers")
			}
			if !carriesToken(auth1 + auth2) {
				t.Fatalf("Authorization %q holds a token, but would be passed on", auth1+auth2)
			}
		default:
			t.Fatalf("credential gave a token from source %d", source)
		}
	})
}

// FuzzCookieHeader checks that the state cookie is read without panic
// from any Cookie header, and that what is passed on never holds it.
func FuzzCookieHeader(f *testing.F) {
	for _, header := range []string{
		"", "gafaelfawr=abc", "a=1; gafaelfawr=abc; b=2", "a=1;gafaelfawr=abc", "gafaelfawr=\"abc\"",
		" gafaelfawr = abc ;", "gafaelfawr=a; gafaelfawr=b", "gafaelfawr", "=gafaelfawr", ";;;", "gafaelfawr=\"",
		"Gafaelfawr=abc", "gafaelfawr\t=abc",
	} {
		f.Add(header)
	}
	f.Fuzz(func(t *testing.T, header string) {
		value, found := stateCookie(http.Header{"Cookie": {header}})
		if !found && value != "" {
			t.Fatalf("stateCookie(%q) = %q but not found", header, value)
		}
		kept := withoutStateCookie(header)
		if hasStateCookie(kept) {
			t.Fatalf("withoutStateCookie(%q) = %q, which holds the state cookie", header, kept)
		}
		if again := withoutStateCookie(kept); again != kept {
			t.Fatalf("withoutStateCookie is not idempotent on %q: %q then %q", header, kept, again)
		}
		if _, found := stateCookie(http.Header{"Cookie": {kept}}); found {
			t.Fatalf("the state cookie is still read from %q, passed on from %q", kept, header)
		}
	})
}

// FuzzClientIP checks that any peer address and X-Forwarded-For headers
// give an error or an address the history can hold, and that a peer
// outside the trusted networks is taken as the client whatever it sends.
func FuzzClientIP(f *testing.F) {
	for _, seed := range [][3]string{
		{"192.0.2.1:1234", "", ""},
		{"10.0.0.1:1234", "198.51.100.7", ""},
		{"10.0.0.1:1234", "198.51.100.7, 10.0.0.2", "10.0.0.3"},
		{"10.0.0.1:1234", "junk, 10.0.0.2", ""},
		{"10.0.0.1:1234", "198.51.100.7:80", ""},
		{"10.0.0.1:1234", "fe80::1%eth0", ""},
		{"[::ffff:10.0.0.1]:1234", "::ffff:198.51.100.7", ""},
		{"[fe80::1%eth0]:1234", "", ""},
		{"@", "", ""},
		{"", ",,,", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remoteAddr, xff1, xff2 string) {
		r := &http.Request{RemoteAddr: remoteAddr, Header: http.Header{"X-Forwarded-For": {xff1, xff2}}}
		got, err := clientIP(r, trusted)
		if err != nil {
			if _, perr := netip.ParseAddrPort(remoteAddr); perr == nil {
				t.Fatalf("clientIP refused peer %q, an address and port: %v", remoteAddr, err)
			}
			return
		}
		addr, err := netip.ParseAddr(got)
		if err != nil || addr.Zone() != "" || addr.Is4In6() {
			t.Fatalf("clientIP = %q, which the history cannot hold as it is", got)
		}
		peer := netip.MustParseAddrPort(remoteAddr).Addr().Unmap().WithZone("")
		if !within(peer, trusted) && addr != peer {
			t.Fatalf("clientIP = %s, want the untrusted peer %s", got, peer)
		}
	})
}

func fuzzCodec(f *testing.F) *statecookie.Codec {
	f.Helper()
	codec, err := statecookie.New(fuzzSessionSecret)
	if err != nil {
		f.Fatal(err)
	}
	return codec
}

// hasStateCookie reports whether a Cookie header holds a pair that
// Gafaelfawr or Starlette would read as the state cookie.
func hasStateCookie(header string) bool {
	for chunk := range strings.SplitSeq(header, ";") {
		if name, _, ok := strings.Cut(chunk, "="); ok && stripHeaderSpace(name) == stateCookieName {
			return true
		}
	}
	return false
}

// decodedBasic is what a Basic Authorization header holds, decoded, or ""
// when it holds nothing decodable: a problem must quote that no more than
// the header itself.
func decodedBasic(header string) string {
	scheme, blob, ok := splitAuthorization(header)
	if !ok || !isWord(scheme, "basic") {
		return ""
	}
	raw, _ := decodeBase64(blob)
	return string(raw)
}

// checkQuotesNothing fails t if what p shows a client or writes to the
// log quotes a token-like fragment of the inputs. The challenge and
// X-Error-Body are made of its message, its kind and parameter names
// (constants) and its scopes, so those are what is checked.
func checkQuotesNothing(t *testing.T, p *problem, inputs ...string) {
	t.Helper()
	shown := []string{p.msg, strings.Join(p.scopes, " ")}
	if p.cause != nil {
		shown = append(shown, p.cause.Error())
	}
	for _, s := range shown {
		for _, in := range inputs {
			if fragment, ok := leakedFragment(s, in); ok {
				t.Fatalf("problem %q quotes %q of its input %q", s, fragment, in)
			}
		}
	}
}

// leakWindow is the length of the shortest fragment of a token-like run
// that a problem may not quote. No message here has a run of letters,
// digits, "-", "_", "+", "/" or "=" this long, so a problem that holds one
// took it from its input.
const leakWindow = 16

// leakedFragment returns a fragment of input, leakWindow characters of a
// token-like run, that s quotes, if there is one.
func leakedFragment(s, input string) (string, bool) {
	run := 0
	for i := 0; i < len(input); i++ {
		if !tokenLikeByte(input[i]) {
			run = 0
			continue
		}
		run++
		if run >= leakWindow {
			if fragment := input[i+1-leakWindow : i+1]; strings.Contains(s, fragment) {
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
