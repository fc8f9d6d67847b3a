package domain_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// slog's JSON handler honours LogValue only for an attribute's own value;
// anything nested (the TokenRecord a repository is given, a slice of token
// data, a caller's struct holding one) goes through encoding/json, which
// must not write Token.Secret either.
func TestJSONLogOfNestedTokenDataNeverShowsTheSecret(t *testing.T) {
	data := domain.TokenData{
		Token:    domain.Token{Key: fuzzKey, Secret: fuzzSecret},
		Username: "alice", Type: domain.TokenTypeSession, Scopes: []string{"read:all"},
		Created: time.Unix(1764318000, 0), Expires: time.Unix(1764321600, 0),
	}
	for name, v := range map[string]any{
		"TokenRecord":   domain.TokenRecord{Data: data, Actor: "alice"},
		"[]TokenData":   []domain.TokenData{data},
		"[]Token":       []domain.Token{data.Token},
		"caller struct": struct{ Parent domain.TokenData }{data},
	} {
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "v", v)
		if strings.Contains(logged.String(), fuzzSecret) {
			t.Errorf("%s: the secret is shown: %s", name, logged.String())
		}
	}
}
