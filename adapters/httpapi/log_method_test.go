package httpapi_test

import (
	"bufio"
	"net/http/httptest"
	"strings"
	"testing"
)

// The request log bounds what the client chooses, so that a client cannot
// make each request write up to the header limit into the log: the path,
// and the method, which any token may be.
func TestRequestLogBoundsTheMethod(t *testing.T) {
	f := newFixture(t, options{})
	method := strings.Repeat("A", 60_000) // any token is a valid method
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Method = method
	f.do(t, req)
	sc := bufio.NewScanner(strings.NewReader(f.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); len(line) > 2048 {
			t.Errorf("a request log line of %d bytes for a %d-byte method: %.120s...", len(line), len(method), line)
		}
	}
}
