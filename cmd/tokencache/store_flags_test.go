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
		{"an empty flag wins too", []string{"--redis-url", ""},
			storeFlags{"", "postgres://env/db", "env-secret"}},
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
			s.fillFromEnv(fs, func(name string) string { return env[name] })
			if s != tt.want {
				t.Errorf("store flags = %+v, want %+v", s, tt.want)
			}
		})
	}
}

func TestAccessFlagsWinOverEnvironment(t *testing.T) {
	env := map[string]string{envTrustedProxies: "10.0.0.0/8", envAllowedServices: "portal"}
	tests := []struct {
		name                   string
		args                   []string
		wantProxies, wantAllow int
	}{
		{"environment only", nil, 1, 1},
		{"flags win", []string{"--trusted-proxy", "192.0.2.0/24,198.51.100.0/24", "--allow-service", "a,b"}, 2, 2},
		{"an empty flag wins too", []string{"--trusted-proxy", ""}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a accessFlags
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			a.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := a.fillFromEnv(fs, func(name string) string { return env[name] }); err != nil {
				t.Fatal(err)
			}
			if len(a.trustedProxies) != tt.wantProxies || len(a.allowedServices) != tt.wantAllow {
				t.Errorf("trusted proxies %v, allowed services %v; want %d and %d", a.trustedProxies, a.allowedServices, tt.wantProxies, tt.wantAllow)
			}
		})
	}
	// An empty --allow-service would allow any service, wider than the
	// environment's list: refused rather than taken.
	var a accessFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.register(fs)
	if err := fs.Parse([]string{"--allow-service", ""}); err != nil {
		t.Fatal(err)
	}
	if err := a.fillFromEnv(fs, func(name string) string { return env[name] }); err == nil {
		t.Errorf("--allow-service \"\" taken as %v, want a usage error", a.allowedServices)
	}
	// So is a variable of commas only, as "$A,$B" gives with both unset.
	for _, value := range []string{",", " , ", ",,"} {
		var a accessFlags
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		a.register(fs)
		if err := a.fillFromEnv(fs, func(name string) string { return map[string]string{envAllowedServices: value}[name] }); err == nil {
			t.Errorf("%s=%q taken as %v, want a usage error", envAllowedServices, value, a.allowedServices)
		}
	}
}
