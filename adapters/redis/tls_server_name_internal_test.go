package redis

import (
	"net/url"
	"testing"
)

// With several sentinels, or a cluster's several nodes, each server must be
// verified against its own address, not the first host of the URL.
func TestTLSServerNameIsEachServersOwn(t *testing.T) {
	for _, raw := range []string{
		"rediss+sentinel://s1.example:26379?addr=s2.example:26379&master_name=m",
		"rediss+cluster://n1.example:6379?addr=n2.example:6379",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		var name string
		if u.Scheme == "rediss+sentinel" {
			o, err := parseSentinelURL(u)
			if err != nil {
				t.Fatal(err)
			}
			name = o.TLSConfig.ServerName
		} else {
			o, err := parseClusterURL(u)
			if err != nil {
				t.Fatal(err)
			}
			name = o.TLSConfig.ServerName
		}
		if name != "" {
			t.Errorf("%s: every server (sentinels, master, nodes) is verified as %q", raw, name)
		}
	}
}
