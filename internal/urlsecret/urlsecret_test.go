package urlsecret

import "testing"

func TestLocated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"redis://127.0.0.1:6379/0", true},
		{"redis://:pw@127.0.0.1:6379/0", true},
		{"redis://user:p%2Fw@127.0.0.1:6379/0", true},
		{"redis://user:p@w@127.0.0.1:6379/0", true}, // the last "@" ends them
		{"postgres://u:pw@db/x?sslmode=disable", true},
		{"unix:///run/redis.sock?db=1", true},
		{"host=db user=u", true},
		{"redis://:pw/rest@127.0.0.1:6379", false},
		{"redis://:pw?rest@127.0.0.1:6379", false},
		{"redis://:pw#rest@127.0.0.1:6379", false},
		{"redis://:pw%zz@127.0.0.1:6379", false},
		{"redis:/:pw@127.0.0.1:6379", false},
		{"redis::pw@127.0.0.1:6379", false},
		{"u:pw@db:5432/x", false},
		{"redis://127.0.0.1:6379/0?password=a&b", false},
		{"redis://127.0.0.1:6379/0?db=1&password=ab", true},
	} {
		if got := Located(tc.url); got != tc.want {
			t.Errorf("Located(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
}
