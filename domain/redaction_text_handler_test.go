package domain_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/domain"
)

// slog's text handler resolves LogValue only for an attribute's own value
// and writes anything nested with %+v, which for a Token called String, the
// secret form; %#v wrote the secret field.
func TestTextLogOfNestedTokenNeverShowsTheSecret(t *testing.T) {
	tok := domain.Token{Key: fuzzKey, Secret: fuzzSecret}
	for name, v := range map[string]any{
		"[]Token":       []domain.Token{tok},
		"caller struct": struct{ Parent domain.Token }{tok},
		"map of tokens": map[string]domain.Token{"parent": tok},
		"[]*Token":      []*domain.Token{&tok},
	} {
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "v", v)
		if strings.Contains(logged.String(), fuzzSecret) || !strings.Contains(logged.String(), fuzzKey) {
			t.Errorf("TextHandler, %s: %s; want the key, never the secret", name, logged.String())
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if out := fmt.Sprintf(verb, tok); strings.Contains(out, fuzzSecret) {
			t.Errorf("%s of a Token shows the secret: %s", verb, out)
		}
	}
	if tok.String() != "gt-"+fuzzKey+"."+fuzzSecret {
		t.Errorf("String = %q, want the token's secret form, called by name", tok.String())
	}
}
