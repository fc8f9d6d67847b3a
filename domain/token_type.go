package domain

// TokenType is the kind of a token, as stored by Gafaelfawr.
type TokenType string

// The token types Gafaelfawr knows.
const (
	TokenTypeSession  TokenType = "session"
	TokenTypeUser     TokenType = "user"
	TokenTypeNotebook TokenType = "notebook"
	TokenTypeInternal TokenType = "internal"
	TokenTypeService  TokenType = "service"
	TokenTypeOIDC     TokenType = "oidc"
)

// Valid reports whether t is one of the known token types.
func (t TokenType) Valid() bool {
	switch t {
	case TokenTypeSession, TokenTypeUser, TokenTypeNotebook, TokenTypeInternal, TokenTypeService, TokenTypeOIDC:
		return true
	}
	return false
}
