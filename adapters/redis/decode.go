package redis

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// loadedToken is token data as read from Redis, written by Gafaelfawr or by
// this store. It is not storedToken because reading is the hit path:
// encoding/json leaves a plain field at its zero value, the domain's
// "unset", for null as for a missing field, so optional fields need no
// pointer and no allocation. Pointers remain only where a missing field
// must be told from a zero: created (required) and expires (0 would be
// 1970, not "never").
type loadedToken struct {
	Username  string        `json:"username"`
	Name      string        `json:"name"`
	Email     string        `json:"email"`
	UID       int64         `json:"uid"`
	GID       int64         `json:"gid"`
	Groups    []loadedGroup `json:"groups"`
	TokenType string        `json:"token_type"`
	Service   string        `json:"service"`
	Scopes    any           `json:"scopes"` // a list, or a comma-separated string; loadFast puts a []string
	Created   *int64        `json:"created"`
	Expires   *int64        `json:"expires"`
	Token     tokenPair     `json:"token"`
}

type loadedGroup struct {
	Name string `json:"name"`
	ID   int64  `json:"id"` // null: no GID, read as 0
}

// decodeTokenData parses the JSON stored under key. It fails where
// Gafaelfawr's own model would (a required field missing, an unknown token
// type, scopes of the wrong type) and when the data is for a token other
// than key. Its errors never quote the data.
func decodeTokenData(plain []byte, key string) (domain.TokenData, error) {
	j, ok := loadFast(plain)
	if !ok {
		var err error
		if j, err = loadJSON(plain); err != nil {
			return domain.TokenData{}, err
		}
	}
	return j.tokenData(key)
}

// loadJSON reads token data with encoding/json. It is what loadFast must
// agree with, and what reads whatever loadFast leaves to it.
func loadJSON(plain []byte) (loadedToken, error) {
	var j loadedToken
	if err := json.Unmarshal(plain, &j); err != nil {
		return loadedToken{}, describeJSONError(err)
	}
	return j, nil
}

// tokenData checks j as Gafaelfawr's model would and converts it. Both
// ways of reading share it, so they cannot differ in what they accept.
func (j *loadedToken) tokenData(key string) (domain.TokenData, error) {
	switch {
	case j.Token.Key != key: // also when the token is missing
		return domain.TokenData{}, errors.New("token data is not for this token key")
	case j.Username == "":
		return domain.TokenData{}, errors.New("token data has no username")
	case !domain.TokenType(j.TokenType).Valid():
		return domain.TokenData{}, errors.New("token data has an unknown token type")
	case j.Created == nil:
		return domain.TokenData{}, errors.New("token data has no creation time")
	}
	scopes, err := parseScopes(j.Scopes)
	if err != nil {
		return domain.TokenData{}, err
	}
	d := domain.TokenData{
		Token:    domain.Token{Key: j.Token.Key, Secret: j.Token.Secret},
		Username: j.Username,
		Type:     domain.TokenType(j.TokenType),
		Service:  j.Service,
		Scopes:   scopes,
		Created:  time.Unix(*j.Created, 0).UTC(),
		Name:     j.Name,
		Email:    j.Email,
		UID:      j.UID,
		GID:      j.GID,
	}
	if j.Expires != nil {
		d.Expires = time.Unix(*j.Expires, 0).UTC()
	}
	if j.Groups != nil {
		d.Groups = make([]domain.Group, len(j.Groups))
		for i, g := range j.Groups {
			d.Groups[i] = domain.Group{Name: g.Name, ID: g.ID}
		}
	}
	return d, nil
}

// parseScopes reads scopes as Gafaelfawr does, from a JSON list or a
// comma-separated string, and makes them canonical.
func parseScopes(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return domain.SplitScopes(v), nil
	case []string: // only from loadFast, which reads a list of strings only
		return domain.CanonicalScopes(v), nil
	case []any:
		scopes := make([]string, len(v))
		for i, s := range v {
			var ok bool
			if scopes[i], ok = s.(string); !ok {
				return nil, errors.New("token data scopes are not all strings")
			}
		}
		return domain.CanonicalScopes(scopes), nil
	case nil:
		return nil, errors.New("token data has no scopes")
	default:
		return nil, errors.New("token data scopes are neither a list nor a string")
	}
}

// describeJSONError says where the JSON went wrong without the bytes that
// encoding/json's messages quote, since they come from the token data.
func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("token data is not JSON (syntax error at byte %d)", syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return errors.New("token data is not a JSON object")
	case errors.As(err, &typ):
		return fmt.Errorf("token data field %q has the wrong JSON type (want %s)", typ.Field, typ.Type)
	default:
		return errors.New("token data is not valid JSON")
	}
}
