package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/adapters/httpapi"
)

// A negative request timeout would answer every request 503 at once: it is
// refused when the handler is made, as ServerConfig refuses its negative
// durations.
func TestNewHandlerRefusesANegativeRequestTimeout(t *testing.T) {
	defer func() {
		v := recover()
		if v == nil {
			t.Fatal("NewHandler accepted a negative RequestTimeout")
		}
		if msg, _ := v.(string); !strings.Contains(msg, "RequestTimeout") {
			t.Errorf("NewHandler panicked with %v, want a message naming RequestTimeout", v)
		}
	}()
	httpapi.NewHandler(httpapi.Config{RequestTimeout: -time.Second})
}
