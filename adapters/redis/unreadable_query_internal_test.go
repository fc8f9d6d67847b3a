package redis

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// A query option net/url cannot read (a raw ";" or a bad %-escape, in the
// master's password say) is not dropped silently: the master would be sent
// the sentinels' password instead, and a server none.
func TestUnreadableQueryOptionsAreRefused(t *testing.T) {
	for _, raw := range []string{
		"redis+sentinel://:sentinelpw@h:26379?master_name=m&password=master;pw",
		"redis+sentinel://:sentinelpw@h:26379?master_name=m&password=master%zzpw",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := parseSentinelURL(u)
		if err == nil {
			t.Errorf("%s: accepted; master password %q (the sentinels' is %q)", raw, opts.Password, opts.SentinelPassword)
		} else if strings.Contains(err.Error(), "master") && strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: the error quotes the password: %v", raw, err)
		}
	}
	// The same through NewClient, for each kind of URL: refused before
	// any dial, so no server is needed.
	for _, raw := range []string{
		"redis://127.0.0.1:1/0?password=a;b",
		"redis+cluster://127.0.0.1:1?addr=127.0.0.1:2;addr=127.0.0.1:3",
		"redis+sentinel://:pw@127.0.0.1:1?master_name=m&addr=127.0.0.1:2;addr=127.0.0.1:3",
	} {
		_, _, err := NewClient(context.Background(), raw)
		if err == nil || !strings.Contains(err.Error(), "cannot be read") {
			t.Errorf("NewClient(%s) = %v, want the query refused", raw, err)
		}
	}
}
