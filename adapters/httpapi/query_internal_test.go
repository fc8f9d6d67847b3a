package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The expected pairs are what Python 3.11's
// urllib.parse.parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
// gave, as Starlette reads a query for Gafaelfawr, written out in UTF-8.
func TestParseQueryReadsAsStarletteReadsIt(t *testing.T) {
	type pair struct{ name, value string }
	for _, tt := range []struct {
		raw  string
		want []pair
	}{
		{"", []pair{}},
		{"a=1&b=2", []pair{{"a", "1"}, {"b", "2"}}},
		{"comment=100%", []pair{{"comment", "100%"}}},
		{"minimum_lifetime=7200%", []pair{{"minimum_lifetime", "7200%"}}},
		{"minimum_lifetime=7200;x", []pair{{"minimum_lifetime", "7200;x"}}},
		{"notebook=true&%zz", []pair{{"notebook", "true"}, {"%zz", ""}}},
		{"delegate_to=portal%2", []pair{{"delegate_to", "portal%2"}}},
		{"a=%2", []pair{{"a", "%2"}}},
		{"a=%", []pair{{"a", "%"}}},
		{"a=%41%4a%4A", []pair{{"a", "AJJ"}}},
		{"a=b+c%2Bd", []pair{{"a", "b c+d"}}},
		{"+=+", []pair{{" ", " "}}},
		{"a", []pair{{"a", ""}}},
		{"a&&b=", []pair{{"a", ""}, {"b", ""}}},
		{"=x", []pair{{"", "x"}}},
		{"a=b=c", []pair{{"a", "b=c"}}},
		{"a=1&a=2", []pair{{"a", "1"}, {"a", "2"}}},
		{"delegate_to=caf%C3%A9", []pair{{"delegate_to", "caf\xc3\xa9"}}},
		{"delegate_to=caf%E9", []pair{{"delegate_to", "caf\xef\xbf\xbd"}}},
		{"delegate_to=caf\xe9", []pair{{"delegate_to", "caf\xc3\xa9"}}},
		{"delegate_to=caf\xc3\xa9", []pair{{"delegate_to", "caf\xc3\x83\xc2\xa9"}}},
		{"a=%FF%FF", []pair{{"a", "\xef\xbf\xbd\xef\xbf\xbd"}}},
		{"a=%E2%82", []pair{{"a", "\xef\xbf\xbd"}}},
		{"a=%E2%82%41", []pair{{"a", "\xef\xbf\xbdA"}}},
		{"a=%F0%80%80", []pair{{"a", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}}},
		{"a=%ED%A0%80", []pair{{"a", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}}},
		{"a=%F4%90%80%80", []pair{{"a", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}}},
		{"a=%C0%AF", []pair{{"a", "\xef\xbf\xbd\xef\xbf\xbd"}}},
		{"a=%E0%80%AF", []pair{{"a", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}}},
		{"a=%F0%9F%98%80", []pair{{"a", "\xf0\x9f\x98\x80"}}},
		{"a=%F0%9F%98", []pair{{"a", "\xef\xbf\xbd"}}},
		{"a=%EF%BF%BD", []pair{{"a", "\xef\xbf\xbd"}}},
		{"a=%C3\xa9", []pair{{"a", "\xef\xbf\xbd\xc2\xa9"}}},
		{"a=%C3%", []pair{{"a", "\xef\xbf\xbd%"}}},
		{"%61=%62", []pair{{"a", "b"}}},
		{"a=%00", []pair{{"a", "\x00"}}},
		{"a;b=c", []pair{{"a;b", "c"}}},
		{"a=b;c=d", []pair{{"a", "b;c=d"}}},
	} {
		q, p := parseQuery(tt.raw)
		if p != nil {
			t.Errorf("parseQuery(%+q) refused it: %s", tt.raw, p.msg)
			continue
		}
		want := map[string][]string{}
		for _, p := range tt.want {
			want[p.name] = append(want[p.name], p.value)
		}
		if len(q) != len(want) {
			t.Errorf("parseQuery(%+q) = %+q, want %+q", tt.raw, q, want)
			continue
		}
		for name, values := range want {
			if !slices.Equal(q[name], values) {
				t.Errorf("parseQuery(%+q) = %+q, want %+q", tt.raw, q, want)
			}
		}
	}
}

func TestParseQueryBoundsItsPairs(t *testing.T) {
	most := strings.Repeat("a=1&", maxQueryPairs-1) + "b=2&&"
	if q, p := parseQuery(most); p != nil || len(q["a"]) != maxQueryPairs-1 || len(q["b"]) != 1 {
		t.Fatalf("%d pairs, some empty between: %d and %d read, %v; want all", maxQueryPairs, len(q["a"]), len(q["b"]), p)
	}
	if _, p := parseQuery(most + "c=3"); p == nil || p.status != http.StatusUnprocessableEntity {
		t.Fatalf("%d pairs: %+v, want a 422", maxQueryPairs+1, p)
	}
}
