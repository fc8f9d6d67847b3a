package main

import (
	"context"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/domain"
)

// TestDemoSession checks the token serve mints in memory against what the
// README promises: user demo, scopes read:all and user:token, one hour.
func TestDemoSession(t *testing.T) {
	comp, cleanup, err := initializeMemory(app.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	var out strings.Builder
	c := &cli{stdout: &out, stderr: &out}
	before := comp.Clock.Now()
	if err := c.printDemo(context.Background(), comp, "http://127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^  (gt-\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no token line in:\n%s", out.String())
	}
	token, err := domain.ParseToken(m[1])
	if err != nil {
		t.Fatal(err)
	}
	data, err := comp.Store.Get(context.Background(), token)
	if err != nil {
		t.Fatalf("the demo token is not in the token store: %v", err)
	}
	if data.Username != "demo" || data.Type != domain.TokenTypeSession ||
		!slices.Equal(data.Scopes, []string{"read:all", "user:token"}) {
		t.Errorf("demo token = %s of %q with %v, want a session of demo with read:all user:token",
			data.Type, data.Username, data.Scopes)
	}
	if life := data.Expires.Sub(data.Created); life != time.Hour || data.Created.Sub(before).Abs() > time.Second {
		t.Errorf("demo token lives %v from %v, want an hour from about %v", life, data.Created, before)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"[::]:8080", "http://[::1]:8080"},
		{"[::1]:8080", "http://[::1]:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			addr, err := net.ResolveTCPAddr("tcp", tt.listen)
			if err != nil {
				t.Fatal(err)
			}
			if got := baseURL(addr); got != tt.want {
				t.Errorf("baseURL(%s) = %s, want %s", tt.listen, got, tt.want)
			}
		})
	}
}
