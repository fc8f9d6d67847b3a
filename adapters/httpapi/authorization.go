package httpapi

import (
	"net/http"
	"strings"

	"github.com/tokencache/tokencache/domain"
)

// bearerToken reads the parent token from the Authorization header. A
// request with no header, or with another scheme, presented no bearer token
// and gets a bare challenge; a bearer credential that is not a token gets
// invalid_token. Neither message quotes what was sent.
func bearerToken(r *http.Request) (domain.Token, *problem) {
	header := r.Header.Get("Authorization")
	scheme, credential, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return domain.Token{}, &problem{
			status: http.StatusUnauthorized, outcome: outcomeInvalidToken, bareChallenge: true,
			kind: "invalid_token", msg: "Authentication required: send Authorization: Bearer <token>",
		}
	}
	token, err := domain.ParseToken(strings.TrimSpace(credential))
	if err != nil {
		return domain.Token{}, invalidToken("Token is malformed", err)
	}
	return token, nil
}

// invalidToken is the 401 for a token that cannot be used.
func invalidToken(msg string, cause error) *problem {
	return &problem{
		status: http.StatusUnauthorized, outcome: outcomeInvalidToken,
		kind: "invalid_token", msg: msg, cause: cause,
	}
}
