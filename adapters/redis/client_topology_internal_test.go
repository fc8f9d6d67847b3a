package redis

import (
	"net/url"
	"testing"
)

// The URL's credentials are the sentinels', and the master's unless the
// query gives the master its own.
func TestParseSentinelURLCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url                            string
		sentinelUser, sentinelPW, user, pass string
	}{
		{"none", "redis+sentinel://h:26379?master_name=m", "", "", "", ""},
		{"userinfo for both", "redis+sentinel://u:pw@h:26379?master_name=m", "u", "pw", "u", "pw"},
		{"master's own", "redis+sentinel://u:pw@h:26379?master_name=m&username=mu&password=mpw", "u", "pw", "mu", "mpw"},
		{"master's only", "redis+sentinel://h:26379?master_name=m&password=mpw", "", "", "", "mpw"},
		{"master without", "redis+sentinel://:pw@h:26379?master_name=m&password=", "", "pw", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			opts, err := parseSentinelURL(u)
			if err != nil {
				t.Fatalf("parseSentinelURL: %v", err)
			}
			got := [4]string{opts.SentinelUsername, opts.SentinelPassword, opts.Username, opts.Password}
			if want := [4]string{tc.sentinelUser, tc.sentinelPW, tc.user, tc.pass}; got != want {
				t.Errorf("sentinel user, password, master user, password = %q, want %q", got, want)
			}
		})
	}
}

// Every topology's client ends commands at their context's deadline and
// dials once per attempt, unless the URL says otherwise.
func TestTopologyOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url         string
		wantRetries int
	}{
		{"redis+sentinel://h:26379?master_name=m", dialerRetries},
		{"redis+sentinel://h:26379?master_name=m&dialer_retries=4", 4},
		{"redis+cluster://h:7000", dialerRetries},
		{"rediss+cluster://h:7000?dialer_retries=4", 4},
	} {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			var timeouts bool
			var retries int
			if u.Scheme == "redis+sentinel" {
				opts, err := parseSentinelURL(u)
				if err != nil {
					t.Fatal(err)
				}
				timeouts, retries = opts.ContextTimeoutEnabled, opts.DialerRetries
			} else {
				opts, err := parseClusterURL(u)
				if err != nil {
					t.Fatal(err)
				}
				timeouts, retries = opts.ContextTimeoutEnabled, opts.DialerRetries
				if u.Scheme == "rediss+cluster" && opts.TLSConfig == nil {
					t.Error("rediss+cluster without TLS")
				}
			}
			if !timeouts || retries != tc.wantRetries {
				t.Errorf("ContextTimeoutEnabled %v, DialerRetries %d; want true, %d", timeouts, retries, tc.wantRetries)
			}
		})
	}
}
