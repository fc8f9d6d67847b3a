package main

import (
	"context"
	"flag"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestBoolFlagAndItsEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    bool
		wantErr bool
	}{
		{"neither", nil, "", false, false},
		{"flag alone", []string{"--client-cache"}, "", true, false},
		{"flag false wins over the environment", []string{"--client-cache=false"}, "true", false, false},
		{"environment", nil, "true", true, false},
		{"environment not a boolean", nil, "maybe", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b boolFlag
			fs := newTestFlagSet()
			fs.Var(&b, "client-cache", "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := b.fillFromEnv(func(string) string { return tt.env }, envClientCache)
			if (err != nil) != tt.wantErr || b.value != tt.want {
				t.Errorf("value %v, error %v; want %v, error %v", b.value, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestDaemonClientCacheHonoursRevocation runs the daemon with the client
// cache and revokes its notebook child as Gafaelfawr does, by deleting it
// from Redis through another client: the next requests must stop getting
// it, without waiting for any expiry.
func TestDaemonClientCacheHonoursRevocation(t *testing.T) {
	s := newRealStores(t)
	d := startServe(t, s.env, "--listen", "127.0.0.1:0", "--client-cache")
	now := time.Now().UTC().Truncate(time.Second)
	parent, _ := s.gafaelfawrParent(t, "read:all", now.Add(-time.Hour), now.Add(24*time.Hour))
	child := childOf(t, getDelegate(t, d, parent, "notebook=true"))
	if again := childOf(t, getDelegate(t, d, parent, "notebook=true")); again != child {
		t.Fatal("a second request got another child, want the cached one")
	}
	if err := s.rdb.Del(context.Background(), "token:"+child.Key).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := getDelegate(t, d, parent, "notebook=true")
		if resp.StatusCode == http.StatusOK && childOf(t, resp) != child {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revoked child was still handed out 5 s after its deletion")
		}
		time.Sleep(5 * time.Millisecond) // polling: the invalidation is not observable from here
	}
	// And the parent itself, revoked, is refused.
	if err := s.rdb.Del(context.Background(), "token:"+parent.Key).Err(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for getDelegate(t, d, parent, "notebook=true").StatusCode != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the revoked parent was still accepted 5 s after its deletion")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newTestFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
