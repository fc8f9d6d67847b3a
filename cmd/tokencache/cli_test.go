package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	stdout, _, code := runBinary(t, nil, "version")
	if code != exitOK || stdout != "tokencache "+testVersion+"\n" {
		t.Fatalf("version = %q, exit %d; want %q", stdout, code, "tokencache "+testVersion)
	}
}

func TestHelp(t *testing.T) {
	t.Run("top level", func(t *testing.T) {
		stdout, _, code := runBinary(t, nil, "--help")
		if code != exitOK {
			t.Fatalf("exit code = %d, want 0", code)
		}
		for _, cmd := range []string{"serve", "migrate", "mint-session", "version"} {
			if !strings.Contains(stdout, "\n  "+cmd+" ") {
				t.Errorf("usage does not list %s:\n%s", cmd, stdout)
			}
		}
	})
	// Every command explains each of its flags and environment variables.
	tests := map[string][]string{
		"serve": {"-listen", "-token-lifetime", "-cache-size", "-request-timeout", "-shutdown-timeout",
			"-log-level", "-redis-url", "-database-url", "-session-secret",
			envRedisURL, envDatabaseURL, envSessionSecret},
		"migrate":      {"-database-url", envDatabaseURL},
		"mint-session": {"-user", "-scope", "-lifetime", "-redis-url", "-database-url", "-session-secret", envSessionSecret},
		"version":      {"Print the version"},
	}
	for cmd, wants := range tests {
		for _, flag := range []string{"-h", "--help"} {
			t.Run(cmd+" "+flag, func(t *testing.T) {
				secret := "do-not-print-this-secret"
				_, stderr, code := runBinary(t, []string{envSessionSecret + "=" + secret}, cmd, flag)
				if code != exitOK {
					t.Fatalf("exit code = %d, want 0", code)
				}
				for _, want := range wants {
					if !strings.Contains(stderr, want) {
						t.Errorf("help lacks %s:\n%s", want, stderr)
					}
				}
				if strings.Contains(stderr, secret) {
					t.Error("help shows the session secret from the environment")
				}
				if cmd == "version" && strings.Contains(stderr, "Flags:") {
					t.Errorf("help announces flags that version does not have:\n%s", stderr)
				}
			})
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no command", nil, nil, "Usage:"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"serve", "--frobnicate"}, "flag provided but not defined"},
		{"stray argument", nil, []string{"version", "now"}, "unexpected argument (the first of 1"},
		{"some store flags", []string{envRedisURL + "=redis://127.0.0.1:1/0"}, []string{"serve"},
			"missing --database-url (TOKENCACHE_DATABASE_URL), --session-secret (TOKENCACHE_SESSION_SECRET)"},
		{"client cache in memory", nil, []string{"serve", "--client-cache"}, "need the real stores"},
		{"replica acks in memory", []string{envRedisReplicaAcks + "=1"}, []string{"serve"}, "need the real stores"},
		{"mint-session in memory", nil, []string{"mint-session", "--user", "alice"}, "needs --redis-url"},
		{"migrate without a database", nil, []string{"migrate"}, "--database-url (or TOKENCACHE_DATABASE_URL) is required"},
		{"mint-session with no time", []string{
			envRedisURL + "=redis://127.0.0.1:1/0", envDatabaseURL + "=postgres://u@127.0.0.1:1/db?sslmode=disable",
			envSessionSecret + "=" + strings.Repeat("A", 43) + "=",
		}, []string{"mint-session", "--user", "alice", "--timeout", "0s"}, "--timeout 0s must be positive"},
		// A flag given empty wins over its environment variable.
		{"migrate with an empty database flag", []string{envDatabaseURL + "=postgres://u@127.0.0.1:1/db?sslmode=disable"},
			[]string{"migrate", "--database-url", ""}, "--database-url (or TOKENCACHE_DATABASE_URL) is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runBinary(t, tt.env, tt.args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

// TestUsageErrorsNeverQuoteValues: a flag that takes a value swallows the
// next argument, a URL with an unquoted space splits in two, and a secret
// beginning with "-" reads as a flag; the flag package's messages would
// quote each, and each can be a secret.
func TestUsageErrorsNeverQuoteValues(t *testing.T) {
	const secret = "Hunter2SecretValue"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"value swallowed by a duration flag", []string{"serve", "--token-lifetime", "--session-secret=" + secret}, "flag -token-lifetime is missing its value"},
		{"value swallowed by a number flag", []string{"serve", "--redis-replica-acks", "--database-url=postgres://u:" + secret + "@db/x"}, "flag -redis-replica-acks is missing its value"},
		{"value swallowed by a list flag", []string{"serve", "--trusted-proxy", "--session-secret=" + secret}, "flag -trusted-proxy is missing its value"},
		{"value refused by a duration flag", []string{"serve", "--token-lifetime", secret}, "invalid value for flag -token-lifetime"},
		{"URL split by a space", []string{"serve", "--database-url", "postgres://u:my", secret + "@h/db"}, "unexpected argument (the first of 1"},
		{"secret read as a flag", []string{"serve", "--client-cache", "-" + secret}, "flag provided but not defined"},
		{"passphrase read as a flag", []string{"serve", "--client-cache", "-hunter-two-secret-value"}, "flag provided but not defined"},
		{"secret read as a flag value", []string{"serve", "--client-cache=" + secret}, "invalid value for flag -client-cache"},
		{"bad flag syntax", []string{"serve", "---" + secret}, "bad flag syntax"},
		// A string flag takes any next argument as its value: one that
		// names another flag of the command was meant as that flag.
		{"flag swallowed by --listen", []string{"serve", "--listen", "--session-secret=" + secret}, "flag -listen is missing its value"},
		{"flag swallowed by --listen, one dash", []string{"serve", "--listen", "-session-secret", secret}, "flag -listen is missing its value"},
		{"flag swallowed by --user", []string{"mint-session", "--user", "--session-secret=" + secret, "--scope", "read:all"}, "flag -user is missing its value"},
		{"flag swallowed by --scope", []string{"mint-session", "--user", "alice", "--scope", "--session-secret=" + secret}, "flag -scope is missing its value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runBinary(t, nil, tt.args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
			}
			if strings.Contains(stderr, secret) || strings.Contains(stderr, "Hunter2") || strings.Contains(stderr, "hunter-two") {
				t.Errorf("stderr quotes the secret:\n%s", stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

func TestServeRefusesAnUnreachableStoreClearly(t *testing.T) {
	// Port 1 on loopback refuses connections at once.
	env := []string{
		envRedisURL + "=redis://:hunter2@127.0.0.1:1/0",
		envDatabaseURL + "=postgres://u@127.0.0.1:1/db?sslmode=disable",
		envSessionSecret + "=" + newSessionSecret(t),
	}
	_, stderr, code := runBinary(t, env, "serve", "--listen", "127.0.0.1:0")
	if code != exitError {
		t.Errorf("exit code = %d, want %d", code, exitError)
	}
	if !strings.Contains(stderr, "connecting to redis") {
		t.Errorf("stderr = %q, want it to say Redis cannot be reached", stderr)
	}
	if strings.Contains(stderr, "hunter2") {
		t.Error("stderr shows the Redis password")
	}
}

// TestServeChecksTheTokenLifetimeBeforeConnecting: a --token-lifetime out
// of its range is a usage error (exit 2), found before the stores are
// dialled, even when they cannot be reached.
func TestServeChecksTheTokenLifetimeBeforeConnecting(t *testing.T) {
	unreachable := []string{
		envRedisURL + "=redis://127.0.0.1:1/0",
		envDatabaseURL + "=postgres://u@127.0.0.1:1/db?sslmode=disable",
		envSessionSecret + "=" + newSessionSecret(t),
	}
	for _, tt := range []struct {
		value string
		env   []string
		want  string
	}{
		{"5m", nil, "--token-lifetime: token lifetime 5m0s must be at least 10m0s"},
		{"10m500ms", nil, "--token-lifetime: token lifetime 10m0.5s must be whole seconds"},
		{"5m", unreachable, "--token-lifetime: token lifetime 5m0s must be at least 10m0s"},
	} {
		t.Run(fmt.Sprintf("%s stores %t", tt.value, tt.env != nil), func(t *testing.T) {
			_, stderr, code := runBinary(t, tt.env, "serve", "--listen", "127.0.0.1:0", "--token-lifetime", tt.value)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit code %d, stderr:\n%s\nwant %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

// TestErrorsNeverQuoteEnvironmentOrCommandValues: values refused from the
// environment, a scope and an unknown command are not repeated either: a
// secret pasted into the wrong variable, or a flag put before the command,
// would be shown.
func TestErrorsNeverQuoteEnvironmentOrCommandValues(t *testing.T) {
	const secret = "Hunter2SecretValue"
	stores := []string{
		envRedisURL + "=redis://127.0.0.1:1/0",
		envDatabaseURL + "=postgres://u@127.0.0.1:1/db?sslmode=disable",
		envSessionSecret + "=" + newSessionSecret(t),
	}
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"client cache", append([]string{envClientCache + "=" + secret}, stores...), []string{"serve"}},
		{"replica acks", append([]string{envRedisReplicaAcks + "=" + secret}, stores...), []string{"serve"}},
		{"trusted proxies", []string{"TOKENCACHE_TRUSTED_PROXIES=10.0.0.0/8," + secret}, []string{"serve"}},
		{"flag before the command", nil, []string{"--session-secret=" + secret, "serve"}},
		{"scope", stores, []string{"mint-session", "--user", "alice", "--scope", "read:all," + secret + "!"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runBinary(t, tt.env, tt.args...)
			if code == exitOK {
				t.Errorf("exit code 0")
			}
			if strings.Contains(stderr, secret) {
				t.Errorf("stderr quotes the value:\n%s", stderr)
			}
		})
	}
}

// TestSessionSecretThatIsNoKeyIsAUsageError: a session secret that is not
// a Fernet key is a wrong command line (exit 2), found before any store
// is dialled, for every command that takes it, and never quoted.
func TestSessionSecretThatIsNoKeyIsAUsageError(t *testing.T) {
	const bad = "not-a-fernet-key-Hunter2"
	unreachable := []string{
		envRedisURL + "=redis://127.0.0.1:1/0",
		envDatabaseURL + "=postgres://u@127.0.0.1:1/db?sslmode=disable",
	}
	for name, tc := range map[string]struct {
		env  []string
		args []string
	}{
		"serve, environment":        {append([]string{envSessionSecret + "=" + bad}, unreachable...), []string{"serve", "--listen", "127.0.0.1:0"}},
		"serve, flag":               {unreachable, []string{"serve", "--listen", "127.0.0.1:0", "--session-secret", bad}},
		"mint-session, environment": {append([]string{envSessionSecret + "=" + bad}, unreachable...), []string{"mint-session", "--user", "alice", "--scope", "read:all"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := runBinary(t, tc.env, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, "session secret is not base64 of 32 bytes") {
				t.Errorf("exit code %d, stderr:\n%s\nwant %d and a word about the session secret", code, stderr, exitUsage)
			}
			if strings.Contains(stderr, "Hunter2") {
				t.Errorf("stderr quotes the secret:\n%s", stderr)
			}
		})
	}
}
