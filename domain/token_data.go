package domain

import (
	"slices"
	"time"
)

// Group is a group the token's user belongs to.
type Group struct {
	Name string
	ID   int64
}

// TokenData is everything known about a token.
type TokenData struct {
	Token    Token
	Username string
	Type     TokenType
	Service  string   // internal tokens only
	Scopes   []string // canonical: sorted, no duplicates
	Created  time.Time
	Expires  time.Time // zero: never expires
	Name     string    // "" = unset
	Email    string    // "" = unset
	UID      int64     // 0 = unset
	GID      int64     // 0 = unset
	Groups   []Group   // nil = unset
}

// Clone returns a copy that shares no slices with d.
func (d TokenData) Clone() TokenData {
	d.Scopes = slices.Clone(d.Scopes)
	d.Groups = slices.Clone(d.Groups)
	return d
}

// Lifetime is the token's whole lifetime, from creation to expiry, or zero
// for a token that never expires.
func (d TokenData) Lifetime() time.Duration {
	if d.Expires.IsZero() {
		return 0
	}
	return d.Expires.Sub(d.Created)
}
