package app

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/domain"
)

// Rule 9: each creation logs one structured record, without a secret.

func TestRule9CreationLogsOneRecordWithoutSecrets(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	var stored domain.TokenData
	f.expectCreate(&stored)
	if _, err := f.svc.GetInternalToken(context.Background(), p, "portal", []string{"read:all"}, "192.0.2.1", 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log records, want 1:\n%s", len(lines), f.logs)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"token_key":  stored.Token.Key,
		"token_type": "internal",
		"service":    "portal",
		"username":   "alice",
		"email":      "alice@example.com",
		"uid":        float64(4123),
		"expires":    stored.Expires.Format("2006-01-02T15:04:05Z07:00"),
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if scopes, _ := rec["scopes"].([]any); len(scopes) != 1 || scopes[0] != "read:all" {
		t.Errorf("scopes = %v", rec["scopes"])
	}
	for _, secret := range []string{stored.Token.Secret, p.Token.Secret} {
		if strings.Contains(f.logs.String(), secret) {
			t.Fatalf("log contains a secret: %s", f.logs)
		}
	}
}

func TestRule9ReuseLogsNothing(t *testing.T) {
	f := newFixture(t)
	p := parent(t)
	child := childOf(t, p, domain.TokenTypeNotebook, "", p.Scopes, specNow, specLifetime)
	f.cacheNotebook(t, p, child)
	if f.logs.Len() != 0 {
		t.Fatalf("reusing a stored child logged: %s", f.logs)
	}
}
