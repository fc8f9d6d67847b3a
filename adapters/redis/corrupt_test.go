package redis_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// An entry that cannot be decrypted or parsed is "no such token", logged as
// an error that names the key and quotes neither the entry nor a secret.
func TestCorruptValueIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	otherSecret := newSessionSecret(t)
	for _, tc := range []struct {
		name  string
		value func(tok domain.Token) []byte
	}{
		{"garbage", func(tok domain.Token) []byte { return []byte("not a fernet token " + tok.Secret) }},
		{"empty", func(domain.Token) []byte { return []byte{} }},
		{"wrong key", func(tok domain.Token) []byte {
			return seal(t, otherSecret, gafaelfawrJSON(tok))
		}},
		{"truncated fernet", func(tok domain.Token) []byte {
			v := seal(t, e.secret, gafaelfawrJSON(tok))
			return v[:len(v)-10]
		}},
		{"invalid JSON", func(tok domain.Token) []byte {
			return seal(t, e.secret, []byte(`{"token": {"key": "`+tok.Key+`", "secret": "`+tok.Secret+`"`))
		}},
		{"secret where a number goes", func(tok domain.Token) []byte {
			return seal(t, e.secret, []byte(strings.Replace(string(gafaelfawrJSON(tok)), "4123", `"`+tok.Secret+`"`, 1)))
		}},
		{"JSON list", func(domain.Token) []byte { return seal(t, e.secret, []byte(`[1, 2]`)) }},
		{"scopes of numbers", func(tok domain.Token) []byte {
			return seal(t, e.secret, []byte(strings.Replace(string(gafaelfawrJSON(tok)),
				`["read:all", "read:tap"]`, `[1, 2]`, 1)))
		}},
		{"no username", func(tok domain.Token) []byte {
			return seal(t, e.secret, withField(t, gafaelfawrJSON(tok), "username", nil, true))
		}},
		{"unknown token type", func(tok domain.Token) []byte {
			return seal(t, e.secret, withField(t, gafaelfawrJSON(tok), "token_type", "bogus", false))
		}},
		{"no token", func(tok domain.Token) []byte {
			return seal(t, e.secret, withField(t, gafaelfawrJSON(tok), "token", nil, true))
		}},
		{"another token's data", func(tok domain.Token) []byte {
			other := tok
			other.Key = e.newToken(t).Key
			return seal(t, e.secret, gafaelfawrJSON(other))
		}},
		{"valid HMAC, empty payload", func(domain.Token) []byte {
			return emptyPayloadFernet(t, e.secret)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := e.newToken(t)
			e.checkUnreadable(t, tok, tc.value(tok), nil)
		})
	}
}

// checkUnreadable stores value under tok's key and checks that Get and
// GetByKey read it as "no such token", each logging an error that names
// the key and quotes neither the value, nor a secret, nor any of data
// (texts from the token data).
func (e *env) checkUnreadable(t *testing.T, tok domain.Token, value []byte, data []string) {
	t.Helper()
	e.set(t, tok.Key, value)
	if _, err := e.store.Get(context.Background(), tok); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("Get returned %v, want ports.ErrNotFound", err)
	}
	if _, err := e.store.GetByKey(context.Background(), tok.Key); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetByKey returned %v, want ports.ErrNotFound", err)
	}
	records := logRecordsFor(t, e.logs.String(), tok.Key)
	if len(records) != 2 {
		t.Fatalf("got %d log records for the key, want 2 (one per read):\n%s", len(records), e.logs)
	}
	for _, r := range records {
		if r["level"] != "ERROR" {
			t.Errorf("log record has level %v, want ERROR: %v", r["level"], r)
		}
		text := fmt.Sprint(r)
		for what, s := range map[string]string{
			"token secret": tok.Secret, "session secret": e.secret, "stored value": string(value),
		} {
			if containsSecret(text, s) {
				t.Errorf("log record contains the %s: %s", what, text)
			}
		}
		for _, s := range data {
			if containsSecret(text, s) {
				t.Errorf("log record quotes the token data: %s", text)
			}
		}
	}
}

// logRecordsFor returns the JSON log records whose token_key is key.
func logRecordsFor(t *testing.T, log, key string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(log) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if r["token_key"] == key {
			out = append(out, r)
		}
	}
	return out
}

// withField returns the JSON object doc with field set to v, or removed.
func withField(t *testing.T, doc []byte, field string, v any, remove bool) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if remove {
		delete(m, field)
	} else {
		m[field] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// emptyPayloadFernet builds, by the Fernet spec, a token with a valid HMAC
// and no ciphertext at all, which fernet-go does not reject cleanly. Only
// a holder of the session secret could make one; the store must still not
// crash on it.
func emptyPayloadFernet(t *testing.T, secret string) []byte {
	t.Helper()
	key, err := base64.URLEncoding.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 1+8+16) // version, timestamp, IV
	msg[0] = 0x80
	binary.BigEndian.PutUint64(msg[1:], uint64(time.Now().Unix()))
	mac := hmac.New(sha256.New, key[:16])
	mac.Write(msg)
	return []byte(base64.URLEncoding.EncodeToString(mac.Sum(msg)))
}
