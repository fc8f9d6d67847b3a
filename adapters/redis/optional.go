package redis

import "encoding/json"

// presence is whether a JSON field was missing, null or held a value.
// Gafaelfawr's model tells them apart where encoding/json's plain fields
// do not: an empty name or a uid of 0 is refused, null is "unset"; a
// missing created is "now", a null one is refused.
type presence uint8

const (
	missing presence = iota
	null
	present
)

// optString is a string field that may be null or missing. It is a value,
// not a pointer, so that reading it allocates nothing beyond the string.
type optString struct {
	s string
	p presence
}

// UnmarshalJSON reads a string or null. encoding/json calls it for null
// too, and adds the field's name to a type error it returns.
func (o *optString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = optString{p: null}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*o = optString{s: s, p: present}
	return nil
}

// optInt is an integer field that may be null or missing.
type optInt struct {
	n int64
	p presence
}

// UnmarshalJSON reads an integer that fits in an int64, or null.
func (o *optInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = optInt{p: null}
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*o = optInt{n: n, p: present}
	return nil
}
