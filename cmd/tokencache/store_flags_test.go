package main

import (
	"flag"
	"io"
	"testing"
)

func TestStoreFlagsWinOverEnvironment(t *testing.T) {
	env := map[string]string{
		envRedisURL:      "redis://env/0",
		envDatabaseURL:   "postgres://env/db",
		envSessionSecret: "env-secret",
	}
	tests := []struct {
		name string
		args []string
		want storeFlags
	}{
		{"environment only", nil, storeFlags{"redis://env/0", "postgres://env/db", "env-secret"}},
		{"flags win", []string{"--redis-url", "redis://flag/0", "--session-secret", "flag-secret"},
			storeFlags{"redis://flag/0", "postgres://env/db", "flag-secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s storeFlags
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			s.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			s.fillFromEnv(func(name string) string { return env[name] })
			if s != tt.want {
				t.Errorf("store flags = %+v, want %+v", s, tt.want)
			}
		})
	}
}
