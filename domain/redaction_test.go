package domain_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// TestFormattingNeverShowsTheSecret: a token's data, or a request holding
// its parent, formatted or logged in any of the usual ways shows its key
// and never its secret.
func TestFormattingNeverShowsTheSecret(t *testing.T) {
	data := domain.TokenData{
		Token:    domain.Token{Key: fuzzKey, Secret: fuzzSecret},
		Username: "alice", Type: domain.TokenTypeSession, Scopes: []string{"read:all"},
		Created: time.Unix(1764318000, 0), Expires: time.Unix(1764321600, 0),
	}
	req := domain.ChildRequest{Parent: data, Type: domain.TokenTypeInternal, Service: "portal"}
	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("data", "d", data, "p", &data, "r", req, "t", data.Token)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("data", "d", data, "r", req, "t", data.Token)
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v", data, data, data),
		fmt.Sprintf("%v %+v %#v", &data, &data, &data),
		fmt.Sprintf("%v %+v %#v", req, req, &req),
		fmt.Sprintf("%v", []domain.TokenData{data}),
		logged.String(),
	} {
		if strings.Contains(out, fuzzSecret) {
			t.Errorf("the secret is shown: %s", out)
		}
		if !strings.Contains(out, fuzzKey) {
			t.Errorf("the key is not shown: %s", out)
		}
	}
}
