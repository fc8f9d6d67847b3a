package redis

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tokencache/tokencache/domain"
)

// loadedToken is token data as read from Redis, written by Gafaelfawr or by
// this store. It is not storedToken because reading is the hit path: its
// optional fields are values that record whether the field was missing,
// null or set, so that reading them allocates nothing.
type loadedToken struct {
	Username  string        `json:"username"` // "" for missing or null, both refused
	Name      optString     `json:"name"`
	Email     optString     `json:"email"`
	UID       optInt        `json:"uid"`
	GID       optInt        `json:"gid"`
	Groups    []loadedGroup `json:"groups"`
	TokenType string        `json:"token_type"`
	Service   optString     `json:"service"`
	Scopes    any           `json:"scopes"` // a list, or a comma-separated string; loadFast puts a []string
	Created   optInt        `json:"created"`
	Expires   optInt        `json:"expires"`
	Token     tokenPair     `json:"token"`
}

type loadedGroup struct {
	Name string `json:"name"` // "" for missing or null, both refused
	ID   optInt `json:"id"`
}

// decodeTokenData parses the JSON stored under key. It fails where
// Gafaelfawr's own model would (model_rules.go) and when the data is for a
// token other than key. A missing creation time is now, as in Gafaelfawr.
// Its errors never quote the data.
func decodeTokenData(plain []byte, key string, now time.Time) (domain.TokenData, error) {
	data, _, err := decodeToken(plain, key, now)
	return data, err
}

// decodeToken is decodeTokenData, and also reports whether the data reads
// differently at another time: a missing creation time is the time of
// each read.
func decodeToken(plain []byte, key string, now time.Time) (data domain.TokenData, readsAsNow bool, err error) {
	j, ok := loadFast(plain)
	if !ok {
		if j, err = loadJSON(plain); err != nil {
			return domain.TokenData{}, false, err
		}
	}
	data, err = j.tokenData(key, now)
	return data, j.Created.p == missing, err
}

// loadJSON reads token data with encoding/json. It is what loadFast must
// agree with, and what reads whatever loadFast leaves to it.
func loadJSON(plain []byte) (loadedToken, error) {
	// Gafaelfawr decodes the plaintext as UTF-8 before parsing it, where
	// encoding/json would read invalid bytes as U+FFFD. loadFast reads
	// only valid UTF-8, so this costs nothing on the hit path.
	if !utf8.Valid(plain) {
		return loadedToken{}, errors.New("token data is not UTF-8")
	}
	if err := pydanticParses(plain); err != nil {
		return loadedToken{}, err
	}
	var j loadedToken
	if err := json.Unmarshal(plain, &j); err != nil {
		return loadedToken{}, describeJSONError(err)
	}
	return j, nil
}

// tokenData checks j as Gafaelfawr's model would and converts it. Both
// ways of reading share it, so they cannot differ in what they accept.
func (j *loadedToken) tokenData(key string, now time.Time) (domain.TokenData, error) {
	switch {
	case j.Token.Key != key: // also when the token is missing
		return domain.TokenData{}, errors.New("token data is not for this token key")
	case j.Token.Secret == "":
		// Gafaelfawr refuses null, and reads a missing secret as a new
		// random one: either way no presented token matches it, and
		// GetByKey must not hand it out.
		return domain.TokenData{}, errors.New("token data has no token secret")
	case !domain.TokenType(j.TokenType).Valid():
		return domain.TokenData{}, errors.New("token data has an unknown token type")
	}
	if err := j.checkUser(); err != nil {
		return domain.TokenData{}, err
	}
	created, expires, err := j.times(now)
	if err != nil {
		return domain.TokenData{}, err
	}
	groups, err := j.groups()
	if err != nil {
		return domain.TokenData{}, err
	}
	scopes, err := parseScopes(j.Scopes)
	if err != nil {
		return domain.TokenData{}, err
	}
	return domain.TokenData{
		Token:    domain.Token{Key: j.Token.Key, Secret: j.Token.Secret},
		Username: j.Username,
		Type:     domain.TokenType(j.TokenType),
		Service:  j.Service.s,
		Scopes:   scopes,
		Created:  created,
		Expires:  expires,
		Name:     j.Name.s,
		Email:    j.Email.s,
		UID:      j.UID.n,
		GID:      j.GID.n,
		Groups:   groups,
	}, nil
}

// checkUser applies the model's rules to the user's fields and service:
// null and missing are "unset" for all but username, and a value set must
// be long enough, short enough, or at least 1.
func (j *loadedToken) checkUser() error {
	switch {
	case j.Username == "":
		return errors.New("token data has no username")
	case !domain.NameFits(j.Username):
		return fmt.Errorf("token data username is longer than %d characters", domain.MaxNameLength)
	case j.Service.p == present && j.Service.s == "":
		return errors.New("token data service is empty")
	case j.Service.p == present && !domain.NameFits(j.Service.s):
		return fmt.Errorf("token data service is longer than %d characters", domain.MaxNameLength)
	case j.Name.p == present && j.Name.s == "":
		return errors.New("token data name is empty")
	case j.Email.p == present && j.Email.s == "":
		return errors.New("token data email is empty")
	case j.UID.p == present && j.UID.n < 1:
		return errors.New("token data UID is below 1")
	case j.GID.p == present && j.GID.n < 1:
		return errors.New("token data GID is below 1")
	}
	return nil
}

// times reads the creation and expiry times, as Pydantic reads them
// (timestamp). A missing creation time is now in whole seconds, as
// Gafaelfawr's default; a null one is refused. A null or missing expiry
// is "never", the zero time.
func (j *loadedToken) times(now time.Time) (created, expires time.Time, err error) {
	switch j.Created.p {
	case missing:
		created = now.Truncate(time.Second).UTC()
	case null:
		return created, expires, errors.New("token data creation time is null")
	default:
		var ok bool
		if created, ok = timestamp(j.Created.n); !ok {
			return created, expires, errors.New("token data creation time is out of range")
		}
	}
	if j.Expires.p == present {
		var ok bool
		expires, ok = timestamp(j.Expires.n)
		switch {
		case !ok:
			return created, expires, errors.New("token data expiry time is out of range")
		case expires.IsZero():
			// The first instant of the year 1, which the domain's zero
			// time would turn into "never expires".
			return created, expires, errors.New("token data expired in the year 1")
		}
	}
	return created, expires, nil
}

// groups converts the groups, each of which must have a name matching
// Gafaelfawr's pattern and an integer id (any integer: 0 and negative ids
// are allowed). Gafaelfawr 4.1 and 5.2 to 10.x wrote a null id for a group
// without a GID; later releases refuse such data, and so does this.
func (j *loadedToken) groups() ([]domain.Group, error) {
	if j.Groups == nil {
		return nil, nil
	}
	groups := make([]domain.Group, len(j.Groups))
	for i, g := range j.Groups {
		if !domain.ValidGroupName(g.Name) {
			return nil, errors.New("token data has a group whose name is not a valid group name")
		}
		if g.ID.p != present {
			return nil, errors.New("token data has a group without a GID")
		}
		groups[i] = domain.Group{Name: g.Name, ID: g.ID.n}
	}
	return groups, nil
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

// maxPydanticDepth is how many objects and lists, each holding something,
// Pydantic's JSON parser (jiter) has open at once, the outermost included;
// past it, it refuses the whole. Empty ones do not count.
const maxPydanticDepth = 200

// pydanticParses returns an error for JSON that Pydantic's parser refuses
// and encoding/json reads: a \u escape that is half a surrogate pair, which
// encoding/json reads as U+FFFD, and nesting past maxPydanticDepth.
// Anything else wrong with plain is left to encoding/json.
func pydanticParses(plain []byte) error {
	var open []bool // the open objects and lists: whether each holds anything yet
	held, inString := 0, false
	// holds marks the innermost open object or list as holding something.
	holds := func() error {
		if n := len(open); n > 0 && !open[n-1] {
			open[n-1] = true
			if held++; held > maxPydanticDepth {
				return fmt.Errorf("token data nests deeper than %d levels", maxPydanticDepth)
			}
		}
		return nil
	}
	for i := 0; i < len(plain); i++ {
		c := plain[i]
		switch {
		case inString && c == '\\':
			if i+1 < len(plain) && plain[i+1] == 'u' {
				n, ok := surrogates(plain[i:])
				if !ok {
					return errors.New("token data has half a surrogate pair in a \\u escape")
				}
				i += n - 1
				continue
			}
			i++ // the escaped character
		case inString:
			inString = c != '"'
		case c == '}' || c == ']':
			if n := len(open); n > 0 {
				if open[n-1] {
					held--
				}
				open = open[:n-1]
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':':
		default: // a value, or an object's key, begins
			if err := holds(); err != nil {
				return err
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				open = append(open, false)
			}
		}
	}
	return nil
}

// surrogates reads the \u escape at the start of b, and the one after it
// when the first is the high half of a surrogate pair: it returns how many
// bytes they take, and false if a half stands alone. An escape too short
// to read is left to encoding/json.
func surrogates(b []byte) (int, bool) {
	cp, ok := hexEscape(b)
	switch {
	case !ok || cp < 0xd800 || cp > 0xdfff:
		return 2, true // "\u": the hex digits are read as plain text
	case cp >= 0xdc00:
		return 0, false
	}
	low, ok := hexEscape(b[6:])
	if !ok || low < 0xdc00 || low > 0xdfff {
		return 0, false
	}
	return 12, true
}

// hexEscape is the code unit of the \uXXXX at the start of b.
func hexEscape(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	var cp rune
	for _, c := range b[2:6] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		cp = cp<<4 | rune(v)
	}
	return cp, true
}
