package redis

import "strings"

// The JSON names loadFast reads. TestFastKeysMatchJSONTags keeps them equal
// to the structs' tags: a field added to a struct but not here would be
// skipped as unknown, and loadFast would then differ from encoding/json.
var (
	tokenKeys = []string{"username", "name", "email", "uid", "gid", "groups",
		"token_type", "service", "scopes", "created", "expires", "token"}
	groupKeys     = []string{"name", "id"}
	tokenPairKeys = []string{"key", "secret"}
)

// loadFast reads token data on every cache hit, where encoding/json costs
// several times as much (BenchmarkDecodeTokenDataJSON). It reads the shape
// Gafaelfawr and this store write: one object of strings, integers and
// nulls (and numbers of any form in unknown fields), with scopes a list of
// strings or a string, groups a list of
// {"name", "id"} and token a {"key", "secret"}, fields in any order, any
// whitespace, and unknown fields it can skip.
//
// It reports false for anything else, including everything encoding/json
// refuses, and the caller then uses encoding/json. So it only has to be
// right when it reports true, and then its loadedToken is the one
// json.Unmarshal would fill (FuzzDecodeMatchesEncodingJSON checks this).
func loadFast(plain []byte) (loadedToken, bool) {
	r := fastReader{s: string(plain)}
	var j loadedToken
	if !r.object(tokenKeys, func(key string) bool { return r.tokenField(&j, key) }) || !r.end() {
		return loadedToken{}, false
	}
	return j, true
}

// tokenField reads the value of key, one of tokenKeys, into j. A null
// leaves j's field as encoding/json leaves it: unset, nil, or marked null.
func (r *fastReader) tokenField(j *loadedToken, key string) bool {
	switch key {
	case "username":
		return r.plainString(&j.Username)
	case "name":
		return r.optString(&j.Name)
	case "email":
		return r.optString(&j.Email)
	case "uid":
		return r.optInt(&j.UID)
	case "gid":
		return r.optInt(&j.GID)
	case "groups":
		return r.groups(&j.Groups)
	case "token_type":
		return r.plainString(&j.TokenType)
	case "service":
		return r.optString(&j.Service)
	case "scopes":
		return r.scopes(&j.Scopes)
	case "created":
		return r.optInt(&j.Created)
	case "expires":
		return r.optInt(&j.Expires)
	case "token":
		return r.tokenPair(&j.Token)
	}
	return false
}

// groups reads a list of group objects, or null.
func (r *fastReader) groups(dst *[]loadedGroup) bool {
	if r.literal("null") {
		return true
	}
	groups := []loadedGroup{} // not nil: [] is "no groups", null is "unset"
	ok := r.elements(func() bool {
		var g loadedGroup
		ok := r.object(groupKeys, func(key string) bool {
			if key == "name" {
				return r.plainString(&g.Name)
			}
			return r.optInt(&g.ID)
		})
		groups = append(groups, g)
		return ok
	})
	*dst = groups
	return ok
}

// scopes reads a list of strings or a comma-separated string, the two
// forms Gafaelfawr reads, or null. Any other list goes to encoding/json,
// whose []any parseScopes turns into the right error.
func (r *fastReader) scopes(dst *any) bool {
	switch r.peek() {
	case 'n':
		return r.literal("null")
	case '"':
		s, ok := r.keptStr()
		*dst = s
		return ok
	}
	scopes := []string{}
	ok := r.elements(func() bool {
		s, ok := r.keptStr()
		scopes = append(scopes, s)
		return ok
	})
	*dst = scopes
	return ok
}

// tokenPair reads the token's key and secret, or null.
func (r *fastReader) tokenPair(dst *tokenPair) bool {
	if r.literal("null") {
		return true
	}
	return r.object(tokenPairKeys, func(key string) bool {
		if key == "key" {
			return r.plainString(&dst.Key)
		}
		return r.plainString(&dst.Secret)
	})
}

// plainString reads a string, or null, which leaves dst unset.
func (r *fastReader) plainString(dst *string) bool {
	if r.literal("null") {
		return true
	}
	s, ok := r.keptStr()
	*dst = s
	return ok
}

// optString reads a string, or null, as optString.UnmarshalJSON does.
func (r *fastReader) optString(dst *optString) bool {
	if r.literal("null") {
		*dst = optString{p: null}
		return true
	}
	s, ok := r.keptStr()
	*dst = optString{s: s, p: present}
	return ok
}

// optInt reads an integer, or null, as optInt.UnmarshalJSON does.
func (r *fastReader) optInt(dst *optInt) bool {
	if r.literal("null") {
		*dst = optInt{p: null}
		return true
	}
	n, ok := r.integer()
	*dst = optInt{n: n, p: present}
	return ok
}

// keptStr reads a string that goes into the data, as a copy: a substring
// would keep the whole document in memory for as long as any of its
// strings lives, and a child token's key and secret live in the child
// cache.
func (r *fastReader) keptStr() (string, bool) {
	s, ok := r.str()
	return strings.Clone(s), ok
}
