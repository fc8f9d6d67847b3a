package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// realm names this service in WWW-Authenticate challenges, where
// Gafaelfawr names its base hostname.
const realm = "tokencache"

// challenge is the WWW-Authenticate challenge a problem carries.
type challenge int

const (
	noChallenge challenge = iota
	// bareChallenge carries only the realm, as RFC 6750 asks when the
	// request presented no credentials at all.
	bareChallenge
	// errorChallenge adds the error code (the problem's kind), its
	// description (the message) and, for insufficient_scope, the scopes.
	errorChallenge
)

// authScheme is the scheme of the challenge, chosen by auth_type.
type authScheme string

const (
	schemeBearer authScheme = "Bearer"
	schemeBasic  authScheme = "Basic"
)

// problem is an error response. Its message is shown to the client, so it
// must never hold a secret or an internal detail; cause, which may, goes
// only to the log.
type problem struct {
	status  int
	outcome outcome
	kind    string   // "type" in the body, and the challenge's error code
	msg     string   // "msg" in the body, and the challenge's error_description
	loc     []string // "loc" in the body: the parameter at fault, if any
	cause   error    // for the log only

	challenge challenge
	scheme    authScheme // "" means Bearer
	scopes    []string   // scope="..." of the challenge, sorted and space-joined

	// errorStatus, when set, adds X-Error-Status and X-Error-Body, as
	// Gafaelfawr does for the errors it raises through generate_challenge
	// (auth.py), so that an nginx error_page can show the client the real
	// status and body that auth_request itself discards.
	errorStatus int

	// retryAt, when set, is sent as Retry-After, an HTTP date.
	retryAt time.Time

	// ajaxForbidden makes the 401 a 403 for a request from a script
	// (X-Requested-With: XMLHttpRequest), as Gafaelfawr's
	// generate_unauthorized_challenge does for its ingress: nginx would
	// answer a 401 with a redirect to log in, which a script cannot
	// follow, and each such request would load the identity provider.
	ajaxForbidden bool
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
	if c := p.wwwAuthenticate(); c != "" {
		h.Set("WWW-Authenticate", c)
	}
	if p.errorStatus != 0 {
		h.Set("X-Error-Status", strconv.Itoa(p.errorStatus))
		h.Set("X-Error-Body", p.errorBody())
	}
	if !p.retryAt.IsZero() {
		h.Set("Retry-After", p.retryAt.UTC().Format(http.TimeFormat))
	}
	writeJSON(w, p.status, detailBody{Detail: []detailItem{{Loc: p.loc, Msg: p.msg, Type: p.kind}}})
}

// wwwAuthenticate is the challenge in the form of Gafaelfawr's
// AuthChallenge and AuthErrorChallenge (models/auth.py): a Basic challenge
// never carries error information; a Bearer one carries error,
// error_description and, when there are scopes, scope.
func (p *problem) wwwAuthenticate() string {
	if p.challenge == noChallenge {
		return ""
	}
	scheme := p.scheme
	if scheme == "" {
		scheme = schemeBearer
	}
	c := string(scheme) + ` realm="` + realm + `"`
	if p.challenge == bareChallenge || scheme == schemeBasic {
		return c
	}
	c += `, error="` + p.kind + `", error_description="` + quotable(p.msg) + `"`
	if len(p.scopes) > 0 {
		scopes := slices.Compact(slices.Sorted(slices.Values(p.scopes)))
		c += `, scope="` + quotable(strings.Join(scopes, " ")) + `"`
	}
	return c
}

// errorBody is X-Error-Body, written with the spacing of Python's
// json.dumps, as Gafaelfawr writes it. Like its detail, it has no loc.
func (p *problem) errorBody() string {
	return `{"detail": [{"msg": ` + jsonString(p.msg) + `, "type": ` + jsonString(p.kind) + `}]}`
}

// jsonString is s as a JSON string, without Go's escaping of <, > and &,
// which Python does not do.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// writeJSON sends v as a JSON body that no cache keeps.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(status)
	// The status line is sent: an encoding error can only be logged by
	// the server, which has nothing to add.
	_ = json.NewEncoder(w).Encode(v)
}

// okBody is writeJSON's encoding of {"status": "ok"}, written on every
// success without encoding it again.
var okBody = []byte(`{"status":"ok"}` + "\n")

// writeOK answers 200 with okBody.
func writeOK(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody) // a failed write means the client left
}

// quotable drops the characters that cannot appear in an RFC 7235
// quoted-string without escaping, so a message cannot break the header.
// (Gafaelfawr drops only '"' and '\'; the messages here are plain ASCII,
// so for them the two agree.)
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
