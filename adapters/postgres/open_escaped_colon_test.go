package postgres

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/internal/integration"
)

// Credentials escaped as a whole ("user%3Apw@") are all user name to
// net/url and lib/pq, so the server's refusal quotes the password, which
// redact did not know to hide: such a URL's errors are withheld.
func TestOpenHidesAPasswordWrittenWithAnEscapedColon(t *testing.T) {
	t.Parallel()
	const secret = "s3cretPW"
	u, err := url.Parse(integration.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = nil
	dsn := strings.Replace(u.String(), "://", "://"+url.QueryEscape("tokencache_no_such_role:"+secret)+"@", 1)
	db, cleanup, err := Open(context.Background(), dsn)
	if err == nil {
		cleanup()
		t.Fatal("Open succeeded")
	}
	if db != nil {
		t.Error("Open returned a database with its error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("Open's error quotes the password: %v", err)
	}
	server := errors.New(`pq: password authentication failed for user "alice:` + secret + `" (28P01)`)
	if got := redact(server, "postgres://alice%3A"+secret+"@db.example/gafaelfawr", ""); strings.Contains(got.Error(), secret) {
		t.Errorf("redact = %v, which quotes the password", got)
	}
}

// lib/pq does not know sslpassword: it would send it to the server as a
// setting, the key's passphrase with it, and the server would refuse the
// connection. It is refused before anything is sent, without quoting it.
func TestOpenRefusesSSLPassword(t *testing.T) {
	t.Parallel()
	const secret = "Passphrase42"
	for _, dsn := range []string{
		"postgres://u@127.0.0.1:1/x?sslmode=require&sslpassword=" + secret,
		"host=127.0.0.1 port=1 user=u sslpassword=" + secret,
	} {
		_, _, err := Open(context.Background(), dsn)
		if err == nil || !strings.Contains(err.Error(), "sslpassword") || strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%s) = %v; want sslpassword refused, its value not quoted", strings.ReplaceAll(dsn, secret, "…"), err)
		}
	}
}
