package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/app"
)

// net/url drops a query pair it cannot read (a ";", a "%" that escapes
// nothing), so a password= or sslkey= option there was not found to be
// masked and was shown as written; a user name with an escaped ":" holds a
// password net/url does not see as one.
func TestConfigFormattingMasksSecretsNetURLCannotFind(t *testing.T) {
	const secret = "Hunter2Secret"
	for _, u := range []string{
		"postgres://u@db/x?sslmode=disable;password=" + secret,
		"postgres://u@db/x?sslmode=disable&password=" + secret + ";x",
		"postgres://u@db/x?password=" + secret + "%zz",
		"postgres://u@db/x?sslinline=true&sslkey=" + secret + "%zz",
		"redis+sentinel://s:26379?master_name=m;password=" + secret,
		"postgres://u%3A" + secret + "@db/x",
	} {
		cfg := app.Config{DatabaseURL: u, RedisURL: u}
		for verb, out := range map[string]string{"%v": fmt.Sprintf("%v", cfg), "%#v": fmt.Sprintf("%#v", cfg), "LogValue": cfg.LogValue().String()} {
			if strings.Contains(out, secret) {
				t.Errorf("%s, %s: a secret is shown: %s", u, verb, out)
			}
		}
	}
}
