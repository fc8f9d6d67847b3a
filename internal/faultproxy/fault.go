package faultproxy

import (
	"bytes"
	"strconv"
)

// Fault is what the proxy does to the traffic.
type Fault int

const (
	// Stall stops forwarding in both directions, on every connection,
	// including those opened during the stall, until Heal. The data held
	// is never delivered: Heal resets the connections that were stalled,
	// as a network outage long enough for them to time out would. The
	// matching command (with Inject) is held too.
	Stall Fault = iota + 1

	// Reset forwards the first half of the matching command and then
	// resets its connection: the server sees a truncated command, the
	// client a reset.
	Reset

	// DropReply forwards the matching command, swallows the server's
	// reply and then resets the connection: the command took effect but
	// the client cannot know it.
	DropReply

	// Refuse is a server that goes down: the matching command is
	// forwarded, its reply swallowed, then every connection is reset and
	// new ones are refused until Heal.
	Refuse
)

// String names the fault, for subtest names.
func (f Fault) String() string {
	switch f {
	case Stall:
		return "Stall"
	case Reset:
		return "Reset"
	case DropReply:
		return "DropReply"
	case Refuse:
		return "Refuse"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// Faults lists every fault, for tests that try each.
var Faults = []Fault{Stall, Reset, DropReply, Refuse}

// Matcher recognises the command a fault strikes from one chunk of the
// bytes a client sent, as read from its connection.
type Matcher func(chunk []byte) bool

// Contains matches a chunk holding s, ignoring ASCII case: a PostgreSQL
// query or statement text, for example.
func Contains(s string) Matcher {
	needle := bytes.ToLower([]byte(s))
	return func(chunk []byte) bool {
		return bytes.Contains(bytes.ToLower(chunk), needle)
	}
}

// RedisCommand matches a chunk that starts with the Redis command name
// (such as "SET"), in RESP's array-of-bulk-strings form, ignoring case.
func RedisCommand(name string) Matcher {
	return func(chunk []byte) bool {
		// *<count>\r\n$<length>\r\n<name>\r\n
		if len(chunk) == 0 || chunk[0] != '*' {
			return false
		}
		_, rest, ok := bytes.Cut(chunk, []byte("\r\n"))
		if !ok || len(rest) == 0 || rest[0] != '$' {
			return false
		}
		_, rest, ok = bytes.Cut(rest, []byte("\r\n"))
		if !ok {
			return false
		}
		got, _, ok := bytes.Cut(rest, []byte("\r\n"))
		return ok && bytes.EqualFold(got, []byte(name))
	}
}
