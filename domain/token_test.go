package domain_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tokencache/tokencache/domain"
)

// tokenPart is what a key or a secret must look like: 22 characters of
// URL-safe base64 without padding.
var tokenPart = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func TestNewTokenEncoding(t *testing.T) {
	// Sixteen bytes whose bits, read six at a time, are all 62: the
	// character that is "+" in standard base64 and "-" in URL-safe base64.
	sixtyTwos := bytes.Repeat([]byte{0xfb, 0xef, 0xbe}, 6)[:16]

	tests := []struct {
		name       string
		random     []byte
		wantKey    string
		wantSecret string
	}{
		{
			name:       "zero bits",
			random:     make([]byte, 32),
			wantKey:    strings.Repeat("A", 22),
			wantSecret: strings.Repeat("A", 22),
		},
		{
			name:       "one bits give underscore, not slash",
			random:     bytes.Repeat([]byte{0xff}, 32),
			wantKey:    strings.Repeat("_", 21) + "w",
			wantSecret: strings.Repeat("_", 21) + "w",
		},
		{
			name:       "sixty-twos give hyphen, not plus",
			random:     bytes.Repeat(sixtyTwos, 2),
			wantKey:    strings.Repeat("-", 21) + "w",
			wantSecret: strings.Repeat("-", 21) + "w",
		},
		{
			name:       "key from the first half, secret from the second",
			random:     append(make([]byte, 16), bytes.Repeat([]byte{0xff}, 16)...),
			wantKey:    strings.Repeat("A", 22),
			wantSecret: strings.Repeat("_", 21) + "w",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.NewToken(bytes.NewReader(tt.random))
			if err != nil {
				t.Fatalf("NewToken: %v", err)
			}
			if got.Key != tt.wantKey || got.Secret != tt.wantSecret {
				t.Errorf("NewToken = %q.%q, want %q.%q", got.Key, got.Secret, tt.wantKey, tt.wantSecret)
			}
		})
	}
}

func TestNewTokenRandom(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		token, err := domain.NewToken(rand.Reader)
		if err != nil {
			t.Fatalf("NewToken: %v", err)
		}
		assertTokenParts(t, token)
		if seen[token.Key] {
			t.Fatalf("key %q drawn twice", token.Key)
		}
		seen[token.Key] = true

		parsed, err := domain.ParseToken(token.String())
		if err != nil {
			t.Fatalf("ParseToken(String()) of token %q: %v", token.Key, err)
		}
		if parsed != token {
			t.Fatalf("ParseToken(String()) of token %q gave token %q", token.Key, parsed.Key)
		}
	}
}

func TestNewTokenRandomFails(t *testing.T) {
	errBroken := errors.New("entropy source broken")
	tests := []struct {
		name    string
		random  io.Reader
		wantErr error // nil: any error
	}{
		{name: "reader fails", random: iotest.ErrReader(errBroken), wantErr: errBroken},
		{name: "reader empty", random: bytes.NewReader(nil), wantErr: io.EOF},
		{name: "reader one byte short", random: bytes.NewReader(make([]byte, 31)), wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.NewToken(tt.random)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("NewToken error = %v, want %v", err, tt.wantErr)
			}
			if got != (domain.Token{}) {
				t.Errorf("NewToken returned token %q with its error, want the zero token", got.Key)
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	const (
		key    = "KeyKeyKeyKeyKeyKeyKe-_"
		secret = "S3cr3tS3cr3tS3cr3t-_xy"
	)
	valid := domain.Token{Key: key, Secret: secret}

	tests := []struct {
		name   string
		input  string
		secret string // the part of input in the secret's place; "" if none
		want   domain.Token
		valid  bool
	}{
		{name: "valid", input: "gt-" + key + "." + secret, want: valid, valid: true},
		{name: "empty", input: ""},
		{name: "prefix only", input: "gt-"},
		{name: "prefix and dot only", input: "gt-."},
		{name: "missing prefix", input: key + "." + secret, secret: secret},
		{name: "upper-case prefix", input: "GT-" + key + "." + secret, secret: secret},
		{name: "other prefix", input: "gx-" + key + "." + secret, secret: secret},
		{name: "missing dot", input: "gt-" + key + secret, secret: secret},
		{name: "two dots", input: "gt-" + key + "." + secret[:10] + "." + secret[11:], secret: secret[:10] + "." + secret[11:]},
		{name: "key of 21 characters", input: "gt-" + key[:21] + "." + secret, secret: secret},
		{name: "key of 23 characters", input: "gt-" + key + "K." + secret, secret: secret},
		{name: "secret of 21 characters", input: "gt-" + key + "." + secret[:21], secret: secret[:21]},
		{name: "secret of 23 characters", input: "gt-" + key + "." + secret + "S", secret: secret + "S"},
		{name: "plus in key", input: "gt-" + key[:21] + "+." + secret, secret: secret},
		{name: "slash in key", input: "gt-" + key[:21] + "/." + secret, secret: secret},
		{name: "padding in key", input: "gt-" + key[:21] + "=." + secret, secret: secret},
		{name: "plus in secret", input: "gt-" + key + "." + secret[:21] + "+", secret: secret[:21] + "+"},
		{name: "slash in secret", input: "gt-" + key + "." + secret[:21] + "/", secret: secret[:21] + "/"},
		{name: "padding in secret", input: "gt-" + key + "." + secret[:21] + "=", secret: secret[:21] + "="},
		{name: "trailing newline", input: "gt-" + key + "." + secret + "\n", secret: secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParseToken(tt.input)
			if tt.valid {
				if err != nil {
					t.Fatalf("ParseToken: %v", err)
				}
				if got != tt.want {
					t.Errorf("ParseToken = %q.%q, want %q.%q", got.Key, got.Secret, tt.want.Key, tt.want.Secret)
				}
				if s := got.String(); s != tt.input {
					t.Errorf("String() = %q, want the input %q", s, tt.input)
				}
				return
			}
			if !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("ParseToken error = %v, want one wrapping ErrInvalidToken", err)
			}
			if got != (domain.Token{}) {
				t.Errorf("ParseToken returned a token with its error, want the zero token")
			}
			assertNoSecret(t, err, tt.secret)
		})
	}
}

func TestTokenSecretMatches(t *testing.T) {
	token := testToken(t, 1)
	other := testToken(t, 2)
	tests := []struct {
		name  string
		other domain.Token
		want  bool
	}{
		{name: "itself", other: token, want: true},
		{name: "same secret under another key", other: domain.Token{Key: other.Key, Secret: token.Secret}, want: true},
		{name: "another secret under the same key", other: domain.Token{Key: token.Key, Secret: other.Secret}, want: false},
		{name: "prefix of the secret", other: domain.Token{Key: token.Key, Secret: token.Secret[:21]}, want: false},
		{name: "secret with a character changed", other: domain.Token{Key: token.Key, Secret: token.Secret[:21] + "!"}, want: false},
		{name: "empty secret", other: domain.Token{Key: token.Key}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := token.SecretMatches(tt.other); got != tt.want {
				t.Errorf("SecretMatches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTokenTypeValid(t *testing.T) {
	tests := []struct {
		typ  domain.TokenType
		want bool
	}{
		{domain.TokenTypeSession, true},
		{domain.TokenTypeUser, true},
		{domain.TokenTypeNotebook, true},
		{domain.TokenTypeInternal, true},
		{domain.TokenTypeService, true},
		{domain.TokenTypeOIDC, true},
		{"", false},
		{"Notebook", false},
		{"bot", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			if got := tt.typ.Valid(); got != tt.want {
				t.Errorf("TokenType(%q).Valid() = %v, want %v", tt.typ, got, tt.want)
			}
		})
	}
}

// assertTokenParts fails the test unless the token's key and secret are
// each 22 characters of URL-safe base64.
func assertTokenParts(t *testing.T, token domain.Token) {
	t.Helper()
	if !tokenPart.MatchString(token.Key) {
		t.Errorf("key %q is not 22 characters of URL-safe base64", token.Key)
	}
	if !tokenPart.MatchString(token.Secret) {
		t.Errorf("the secret of token %q is not 22 characters of URL-safe base64", token.Key)
	}
}

// assertNoSecret fails the test if err's message contains secret. It
// never prints the secret itself.
func assertNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if err != nil && secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("error message contains a token secret (message has %d characters)", len(err.Error()))
	}
}
