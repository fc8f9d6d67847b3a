package redis

import (
	"net/url"
	"slices"
	"testing"
)

// A sentinel named without a port, as the URL's host or as an addr=, is
// dialled on Sentinel's port, 26379, not on Redis's 6379; a port given is
// kept.
func TestParseSentinelURLDialsSentinelsOnTheirPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url string
		want      []string
	}{
		{"host", "redis+sentinel://s1?master_name=m", []string{"s1:26379"}},
		{"host with an empty port", "redis+sentinel://s1:?master_name=m", []string{"s1:26379"}},
		{"host with userinfo", "redis+sentinel://u:pw@s1?master_name=m", []string{"s1:26379"}},
		{"host over TLS", "rediss+sentinel://:pw@s1/0?master_name=m", []string{"s1:26379"}},
		{"IPv6 host", "redis+sentinel://[::1]?master_name=m", []string{"[::1]:26379"}},
		{"host with its port", "redis+sentinel://s1:26380?master_name=m", []string{"s1:26380"}},
		{"addr", "redis+sentinel://s1?addr=s2&addr=s3:26381&master_name=m", []string{"s1:26379", "s2:26379", "s3:26381"}},
		{"addr with an empty port", "redis+sentinel://s1?addr=s2:&addr=[::2]:&master_name=m", []string{"s1:26379", "s2:26379", "[::2]:26379"}},
		{"IPv6 addr", "redis+sentinel://s1:26380?addr=[::2]&addr=[::3]:26381&master_name=m", []string{"s1:26380", "[::2]:26379", "[::3]:26381"}},
		{"escaped addr", "redis+sentinel://s1?addr=%5B%3A%3A2%5D&master_name=m&password=p%26w", []string{"s1:26379", "[::2]:26379"}},
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
			if !slices.Equal(opts.SentinelAddrs, tc.want) {
				t.Errorf("SentinelAddrs = %q, want %q", opts.SentinelAddrs, tc.want)
			}
		})
	}
}

// Rewriting addr= values leaves the rest of the query as it was: the
// master's password, escaped or not, reaches the master whole.
func TestParseSentinelURLKeepsTheMastersPassword(t *testing.T) {
	t.Parallel()
	u, err := url.Parse("redis+sentinel://s1?addr=s2&master_name=m&password=p%26w%3D%2B+x")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := parseSentinelURL(u)
	if err != nil {
		t.Fatalf("parseSentinelURL: %v", err)
	}
	if opts.Password != "p&w=+ x" {
		t.Errorf("master password %q, want %q", opts.Password, "p&w=+ x")
	}
}
