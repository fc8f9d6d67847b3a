package redis

import (
	"bytes"
	"encoding/json"

	"github.com/tokencache/tokencache/domain"
)

// storedToken is token data as Gafaelfawr writes it to Redis: its fields in
// Gafaelfawr's order, and null (a nil pointer) for each optional field that
// is unset.
type storedToken struct {
	Username  string        `json:"username"`
	Name      *string       `json:"name"`
	Email     *string       `json:"email"`
	UID       *int64        `json:"uid"`
	GID       *int64        `json:"gid"`
	Groups    []storedGroup `json:"groups"`
	TokenType string        `json:"token_type"`
	Service   *string       `json:"service"`
	Scopes    []string      `json:"scopes"`
	Created   int64         `json:"created"`
	Expires   *int64        `json:"expires"`
	Token     tokenPair     `json:"token"`
}

// storedGroup is one group. Its id is always a number, 0 included:
// Gafaelfawr 11.0 and later require one and cannot read token data holding
// a null id (only releases 4.1 and 5.2 to 10.x allowed it), and this store
// refuses to read such data too.
type storedGroup struct {
	Name string `json:"name"`
	ID   int64  `json:"id"`
}

type tokenPair struct {
	Key    string `json:"key"`
	Secret string `json:"secret"`
}

// encodeTokenData is the JSON Gafaelfawr would write for d: compact, in
// its field order, with non-ASCII and HTML characters, the line and
// paragraph separators included, unescaped.
func encodeTokenData(d domain.TokenData) ([]byte, error) {
	j := storedToken{
		Username:  d.Username,
		Name:      orNull(d.Name, ""),
		Email:     orNull(d.Email, ""),
		UID:       orNull(d.UID, 0),
		GID:       orNull(d.GID, 0),
		TokenType: string(d.Type),
		Service:   orNull(d.Service, ""),
		Scopes:    domain.CanonicalScopes(d.Scopes),
		Created:   d.Created.Unix(),
		Token:     tokenPair{Key: d.Token.Key, Secret: d.Token.Secret},
	}
	if d.Groups != nil {
		j.Groups = make([]storedGroup, len(d.Groups))
		for i, g := range d.Groups {
			j.Groups[i] = storedGroup{Name: g.Name, ID: g.ID}
		}
	}
	if !d.Expires.IsZero() {
		j.Expires = orNull(d.Expires.Unix(), 0)
	}
	// Pydantic writes &, < and > as they are; json.Marshal would write
	// \u0026, \u003c and \u003e, the same JSON in other bytes.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return unescapeSeparators(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// unescapeSeparators writes U+2028 and U+2029 as they are in the JSON b,
// as Pydantic does, where encoding/json always escapes them. The only
// backslashes in b begin escapes, so stepping over each escape whole
// never takes an escaped backslash followed by "u2028" for one.
func unescapeSeparators(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u202`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			i++
			continue
		}
		n := 2 // \" \\ \n and the like
		if b[i+1] == 'u' {
			n = 6
		}
		n = min(n, len(b)-i)
		switch esc := string(b[i : i+n]); esc {
		case `\u2028`:
			out = append(out, "\u2028"...)
		case `\u2029`:
			out = append(out, "\u2029"...)
		default:
			out = append(out, esc...)
		}
		i += n
	}
	return out
}

// orNull is nil for the domain's "unset" value, which Gafaelfawr writes as
// null.
func orNull[T comparable](v, unset T) *T {
	if v == unset {
		return nil
	}
	return &v
}
