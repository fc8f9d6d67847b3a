package app

import (
	"fmt"
	"log/slog"
	"net/url"

	"github.com/tokencache/tokencache/internal/urlsecret"
)

// String describes c without its secrets, for %v and %+v: the session
// secret only as set or not, and the URLs without their passwords.
func (c Config) String() string {
	return fmt.Sprintf("{RedisURL:%s DatabaseURL:%s SessionSecret:%s ClientCache:%t RedisReplicaAcks:%d "+
		"TokenLifetime:%s CacheSize:%d MaxChildrenPerParent:%d ChildrenWindow:%s DatabaseMaxConnections:%d CreationTimeout:%s}",
		withoutPassword(c.RedisURL), withoutPassword(c.DatabaseURL), setOrNot(c.SessionSecret), c.ClientCache, c.RedisReplicaAcks,
		c.TokenLifetime, c.CacheSize, c.MaxChildrenPerParent, c.ChildrenWindow, c.DatabaseMaxConnections, c.CreationTimeout)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return "app.Config" + c.String() }

// LogValue is String's description, for slog.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func setOrNot(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "(set)"
}

// secretOptions are the options of a store's URL whose values are
// secrets: passwords, and lib/pq's client key, which sslinline makes the
// key itself rather than a file's name.
var secretOptions = []string{"password", "sentinel_password", "sslpassword", "sslkey"}

// withoutPassword is the URL s with its password and other secret options
// masked, or a stand-in for a URL whose password cannot be located.
func withoutPassword(s string) string {
	if s == "" {
		return `""`
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || !urlsecret.Located(s) {
		return "(withheld)"
	}
	q, masked := u.Query(), false
	for _, name := range secretOptions {
		if q.Has(name) {
			q.Set(name, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
