package app_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/app"
)

// TestConfigFormattingNeverShowsSecrets: a configuration formatted or
// logged shows neither the session secret nor a store's password.
func TestConfigFormattingNeverShowsSecrets(t *testing.T) {
	const secret = "Hunter2Secret"
	for _, cfg := range []app.Config{
		{RedisURL: "redis://:" + secret + "@127.0.0.1:6379/0", DatabaseURL: "postgres://u:" + secret + "@db/x", SessionSecret: secret},
		{RedisURL: "redis://127.0.0.1:6379/0?password=" + secret, DatabaseURL: "host=db password=" + secret},
		{RedisURL: "redis://:1234/" + secret + "@127.0.0.1:6379", DatabaseURL: "u:" + secret + "@db:5432/x"},
		// lib/pq reads sslkey as the private key itself with sslinline,
		// and sslpassword is the key's passphrase.
		{RedisURL: "redis+sentinel://s:26379?master_name=m&sentinel_password=" + secret,
			DatabaseURL: "postgres://u@db/x?sslinline=true&sslkey=" + url.QueryEscape("-----BEGIN PRIVATE KEY-----\n"+secret+"\n") + "&sslpassword=" + secret},
	} {
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg)
		out := fmt.Sprintf("%v %+v %#v %v", cfg, cfg, cfg, &cfg) + logged.String()
		if strings.Contains(out, secret) {
			t.Errorf("a secret is shown: %s", out)
		}
		if !strings.Contains(out, "RedisURL:") {
			t.Errorf("the configuration is not described: %s", out)
		}
	}
}
