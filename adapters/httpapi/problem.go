package httpapi

import (
	"encoding/json"
	"net/http"
)

// realm names this service in WWW-Authenticate challenges.
const realm = "tokencache"

// problem is an error response. Its message is shown to the client, so it
// must never hold a secret or an internal detail; cause, which may, goes
// only to the log.
type problem struct {
	status  int
	outcome outcome
	kind    string   // "type" in the body, and the challenge's error code for 401 and 403
	msg     string   // "msg" in the body, and the challenge's error_description
	loc     []string // "loc" in the body: the parameter at fault, if any
	cause   error    // for the log only

	// bareChallenge makes a 401 challenge carry no error code, as RFC 6750
	// asks when the request presented no bearer token at all.
	bareChallenge bool
}

// detailBody is the error body, in the shape of FastAPI's (and so
// Gafaelfawr's) errors: {"detail": [{"loc": [...], "msg": ..., "type": ...}]}.
type detailBody struct {
	Detail []detailItem `json:"detail"`
}

type detailItem struct {
	Loc  []string `json:"loc,omitempty"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// write sends p as the response.
func (p *problem) write(w http.ResponseWriter) {
	h := w.Header()
	switch {
	case p.status == http.StatusUnauthorized && p.bareChallenge:
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	case p.status == http.StatusUnauthorized || p.status == http.StatusForbidden:
		h.Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="`+p.kind+
			`", error_description="`+quotable(p.msg)+`"`)
	}
	writeJSON(w, p.status, detailBody{Detail: []detailItem{{Loc: p.loc, Msg: p.msg, Type: p.kind}}})
}

// writeJSON sends v as a JSON body that no cache keeps.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The status line is sent: an encoding error can only be logged by
	// the server, which has nothing to add.
	_ = json.NewEncoder(w).Encode(v)
}

// quotable drops the characters that cannot appear in an RFC 7235
// quoted-string without escaping, so a message cannot break the header.
func quotable(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}
