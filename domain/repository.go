package domain

import "time"

// ChildQuery selects existing children of one parent that could be reused:
// same type, for internal tokens the same service and exactly the same
// canonical scopes, and an expiry no earlier than MinExpiration.
type ChildQuery struct {
	ParentKey     string
	Type          TokenType
	Service       string
	Scopes        []string
	MinExpiration time.Time

	// Exclude are keys of children already found wanting, such as
	// children revoked from the token store whose rows remain: the lookup
	// passes over them to the next best.
	Exclude []string
}

// TokenRecord is a token as the repository adds it: the token row, the
// link to its parent (none when ParentKey is ""), and a "create" entry in
// the change history made by Actor from IPAddress at Data.Created.
type TokenRecord struct {
	Data      TokenData
	ParentKey string
	Actor     string
	IPAddress string // "" = unknown (stored as NULL)
}
