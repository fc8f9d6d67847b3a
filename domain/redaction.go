package domain

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Token, TokenData and ChildRequest hold a secret, which must never reach a
// log or an error. Token.String is the secret form, on purpose, called by
// name where the token is sent; what logs or formats any of them (fmt's
// verbs included, so that a Token nested in a value slog's text handler
// writes with %+v is safe too) shows the token's key alone.

// Format writes the token's key alone, whatever the verb: fmt would
// otherwise call String, the secret form, for %v, %+v and %s, and write
// the secret field for %#v.
func (t Token) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, t.Key)
}

// LogValue is the token's key: slog would otherwise write the secret too.
func (t Token) LogValue() slog.Value {
	return slog.StringValue(t.Key)
}

// MarshalJSON writes the token's key alone, as LogValue does. slog's JSON
// handler resolves LogValue only for an attribute's own value, and encodes
// anything nested (a TokenRecord, a slice of TokenData, a caller's struct)
// with encoding/json, which would otherwise write the secret. Gafaelfawr's
// formats are written from types of their own, never from Token.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.Key)
}

// String describes d without its secret, for %v and %+v.
func (d TokenData) String() string {
	return fmt.Sprintf("{token %s, %s token of %q, service %q, scopes %q, created %s, expires %s}",
		d.Token.Key, d.Type, d.Username, d.Service, d.Scopes,
		d.Created.Format("2006-01-02T15:04:05Z07:00"), d.Expires.Format("2006-01-02T15:04:05Z07:00"))
}

// GoString is String, for %#v.
func (d TokenData) GoString() string { return "domain.TokenData" + d.String() }

// LogValue is d without its secret.
func (d TokenData) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token_key", d.Token.Key),
		slog.String("token_type", string(d.Type)),
		slog.String("username", d.Username),
		slog.String("service", d.Service),
		slog.Any("scopes", d.Scopes),
		slog.Time("created", d.Created),
		slog.Time("expires", d.Expires),
	)
}

// String describes r without its parent's secret, for %v and %+v.
func (r ChildRequest) String() string {
	return fmt.Sprintf("{%s token for service %q, scopes %q, of parent %s}", r.Type, r.Service, r.Scopes, r.Parent)
}

// GoString is String, for %#v.
func (r ChildRequest) GoString() string { return "domain.ChildRequest" + r.String() }

// LogValue is r without its parent's secret.
func (r ChildRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token_type", string(r.Type)),
		slog.String("service", r.Service),
		slog.Any("scopes", r.Scopes),
		slog.Any("parent", r.Parent),
	)
}
