package redis

import (
	"encoding/json"
	"errors"
)

// Gafaelfawr's model (Pydantic) reads a field only under its exact name;
// encoding/json would also take "USERNAME", or "ſcopes" with a long s, for
// a field, so that an unknown field could overwrite a known one. These
// read the objects of token data by exact names, ignoring the others; of a
// name given twice, the last value counts, in both.

func (j *loadedToken) UnmarshalJSON(b []byte) error {
	return exactFields(b, []field{
		{"username", &j.Username}, {"name", &j.Name}, {"email", &j.Email}, {"uid", &j.UID}, {"gid", &j.GID},
		{"groups", &j.Groups}, {"token_type", &j.TokenType}, {"service", &j.Service}, {"scopes", &j.Scopes},
		{"created", &j.Created}, {"expires", &j.Expires}, {"token", &j.Token},
	})
}

func (g *loadedGroup) UnmarshalJSON(b []byte) error {
	return exactFields(b, []field{{"name", &g.Name}, {"id", &g.ID}})
}

func (p *tokenPair) UnmarshalJSON(b []byte) error {
	return exactFields(b, []field{{"key", &p.Key}, {"secret", &p.Secret}})
}

// field is a JSON name and where its value goes.
type field struct {
	name string
	dst  any
}

// exactFields reads the JSON object b into fields, each by its exact name,
// in their order, so that of several fields of the wrong type the error
// names the same one every time. null leaves them as they are, as
// encoding/json leaves a struct. A type error names the field it is in, as
// encoding/json names it.
func exactFields(b []byte, fields []field) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, f := range fields {
		v, ok := raw[f.name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			var typ *json.UnmarshalTypeError
			if errors.As(err, &typ) {
				named := *typ
				named.Field = joinField(f.name, typ.Field)
				return &named
			}
			return err
		}
	}
	return nil
}

func joinField(name, inner string) string {
	if inner == "" {
		return name
	}
	return name + "." + inner
}
