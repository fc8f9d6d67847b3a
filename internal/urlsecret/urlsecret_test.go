package urlsecret

import "testing"

func TestLocated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"redis://127.0.0.1:6379/0", true},
		{"postgres://alice%3As3cret@db/x", false}, // the whole is the user name
		{"postgres://alice%3as3cret:pw@db/x", false},
		{"postgres://al%40ice:s3cret@db/x", true},
		{"postgres://u@db/x?sslmode=disable;password=s3cret", false},
		{"postgres://u@db/x?password=s3cret%zz", false},
		{"postgres://u@db/x?sslinline=true&sslkey=s3cret%zz", false},
		{"redis+sentinel://s:26379?master_name=m;password=s3cret", false},
		{"postgres://u@db/x?sslmode=disable&application_name=a%20b", true},
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
