package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// tooManyChildren is the answer to a request whose parent has made as many
// children as its budget allows (domain.ErrTooManyChildren), in the form of
// Gafaelfawr's answer to a request over its API quota (check_rate_limit in
// handlers/ingress.py): behind nginx's auth_request only a 401 or a 403
// reaches the client, so the status is 403 and the real one, 429, is in
// X-Error-Status, with the error type "rate_limited" and Retry-After as an
// HTTP date. There is no challenge: new credentials would not help.
func tooManyChildren(err error) *problem {
	p := &problem{
		status: http.StatusForbidden, outcome: outcomeRateLimited, kind: "rate_limited",
		msg: "Rate limit of new child tokens exceeded", cause: err, errorStatus: http.StatusTooManyRequests,
	}
	var e *domain.TooManyChildrenError
	if errors.As(err, &e) {
		p.msg = fmt.Sprintf("Rate limit of new child tokens (%d/%s) exceeded", e.Max, shortDuration(e.Window))
		p.retryAt = e.RetryAt
	}
	return p
}

// shortDuration writes d as Gafaelfawr writes its quota's window ("15m"):
// in the largest of hours, minutes or seconds that divides it.
func shortDuration(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d > 0 && d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}
