package redis

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// tokenJSON is token data as Gafaelfawr stores it in Redis. The fields are
// in the order Gafaelfawr writes them. Pointers are fields that may be null
// or missing: optional ones, written as null when unset, and required ones,
// so that reading can tell a missing field from a zero value.
type tokenJSON struct {
	Username  string      `json:"username"`
	Name      *string     `json:"name"`
	Email     *string     `json:"email"`
	UID       *int64      `json:"uid"`
	GID       *int64      `json:"gid"`
	Groups    []groupJSON `json:"groups"`
	TokenType string      `json:"token_type"`
	Service   *string     `json:"service"`
	Scopes    scopesJSON  `json:"scopes"`
	Created   *int64      `json:"created"`
	Expires   *int64      `json:"expires"`
	Token     *tokenPair  `json:"token"`
}

// groupJSON is one group. Newer Gafaelfawr allows a group without a GID,
// written with a null id; the domain has no unset group ID, so 0 stands for
// it both ways rather than handing services a real-looking GID 0.
type groupJSON struct {
	Name string `json:"name"`
	ID   *int64 `json:"id"`
}

type tokenPair struct {
	Key    string `json:"key"`
	Secret string `json:"secret"`
}

var errBadScopes = errors.New("token data scopes are neither a list of strings nor a string")

// scopesJSON reads scopes as Gafaelfawr does: a JSON list or a
// comma-separated string. It stays nil when the field is missing or null.
type scopesJSON []string

// UnmarshalJSON makes the scopes canonical whichever form they come in.
func (s *scopesJSON) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var joined string
		if err := json.Unmarshal(b, &joined); err != nil {
			return errBadScopes
		}
		*s = domain.SplitScopes(joined)
	default:
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return errBadScopes
		}
		*s = domain.CanonicalScopes(list)
	}
	return nil
}

// encodeTokenData is the JSON Gafaelfawr would write for d.
func encodeTokenData(d domain.TokenData) ([]byte, error) {
	created := d.Created.Unix()
	j := tokenJSON{
		Username:  d.Username,
		Name:      orNull(d.Name, ""),
		Email:     orNull(d.Email, ""),
		UID:       orNull(d.UID, 0),
		GID:       orNull(d.GID, 0),
		TokenType: string(d.Type),
		Service:   orNull(d.Service, ""),
		Scopes:    domain.CanonicalScopes(d.Scopes),
		Created:   &created,
		Token:     &tokenPair{Key: d.Token.Key, Secret: d.Token.Secret},
	}
	if d.Groups != nil {
		j.Groups = make([]groupJSON, len(d.Groups))
		for i, g := range d.Groups {
			j.Groups[i] = groupJSON{Name: g.Name, ID: orNull(g.ID, 0)}
		}
	}
	if !d.Expires.IsZero() {
		expires := d.Expires.Unix()
		j.Expires = &expires
	}
	return json.Marshal(j)
}

// decodeTokenData parses the JSON stored under key. It fails where
// Gafaelfawr's own model would (a required field missing, an unknown token
// type), and when the data names a token other than key. Its errors never
// quote the data.
func decodeTokenData(plain []byte, key string) (domain.TokenData, error) {
	var j tokenJSON
	if err := json.Unmarshal(plain, &j); err != nil {
		return domain.TokenData{}, describeJSONError(err)
	}
	switch {
	case j.Token == nil:
		return domain.TokenData{}, errors.New("token data has no token")
	case j.Token.Key != key:
		return domain.TokenData{}, errors.New("token data is for another token key")
	case j.Username == "":
		return domain.TokenData{}, errors.New("token data has no username")
	case !domain.TokenType(j.TokenType).Valid():
		return domain.TokenData{}, errors.New("token data has an unknown token type")
	case j.Scopes == nil:
		return domain.TokenData{}, errors.New("token data has no scopes")
	case j.Created == nil:
		return domain.TokenData{}, errors.New("token data has no creation time")
	}
	d := domain.TokenData{
		Token:    domain.Token{Key: j.Token.Key, Secret: j.Token.Secret},
		Username: j.Username,
		Type:     domain.TokenType(j.TokenType),
		Service:  orZero(j.Service),
		Scopes:   j.Scopes,
		Created:  time.Unix(*j.Created, 0).UTC(),
		Name:     orZero(j.Name),
		Email:    orZero(j.Email),
		UID:      orZero(j.UID),
		GID:      orZero(j.GID),
	}
	if j.Expires != nil {
		d.Expires = time.Unix(*j.Expires, 0).UTC()
	}
	if j.Groups != nil {
		d.Groups = make([]domain.Group, len(j.Groups))
		for i, g := range j.Groups {
			d.Groups[i] = domain.Group{Name: g.Name, ID: orZero(g.ID)}
		}
	}
	return d, nil
}

// describeJSONError says where the JSON went wrong without the bytes that
// encoding/json's messages quote, since they come from the token data.
func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errBadScopes):
		return errBadScopes
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

// orNull is nil for the domain's "unset" value, which Gafaelfawr writes as
// null.
func orNull[T comparable](v, unset T) *T {
	if v == unset {
		return nil
	}
	return &v
}

// orZero reads a null or missing field as the domain's "unset" zero value.
func orZero[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
