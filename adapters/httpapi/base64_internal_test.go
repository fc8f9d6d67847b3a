package httpapi

import "testing"

// TestDecodeBase64AsPythonDoes: the answers of base64.b64decode (without
// validate), which Gafaelfawr's parse_authorization calls on a Basic
// credential, in its runtime, Python 3.14.7: since gh-145264 (3.14.4) a
// "=" before the end is skipped, where older releases stopped there.
func TestDecodeBase64AsPythonDoes(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when Python raises
	}{
		{"eHk6YWJj", "xy:abc"},
		{"eHk6YWI=", "xy:ab"},
		{"eHk6YW==", "xy:a"},
		// "=" before the end is skipped like any character outside the
		// alphabet (gh-145264's examples: "YW==Jj" and "YWJ=j" are "abc").
		{"eHk6YWJj=Zm9v", "xy:abcfoo"},
		{"eH=k6YWJj", "xy:abc"},
		{"=eHk6YWJj", "xy:abc"},
		{"eHk6YW==Jj", "xy:abc"},
		{"eHk6YWJ=j", "xy:abc"},
		{"eHk6YWI=Zm9v", ""}, // 3.11 stopped at the "=": "xy:ab"
		{"eHk6YWJj====", "xy:abc"},
		{"eHk6YW= =", "xy:a"},
		{"eHk6YW=!=", "xy:a"},
		{"eHk6 YWJj", "xy:abc"},
		{"eHk6Y W I =", "xy:ab"},
		// The data must end on a whole quantum, or be completed by the
		// "=" after its last character.
		{"eHk6YW=I", ""},
		{"eHk6YWJ", ""},
		{"eHk6YWI", ""},
		{"eHk6YW=", ""},
		{"eHk6Y", ""},
		// A str that is not all ASCII is refused before decoding.
		{"eHk6YWJj\u00e9", ""},
		{"eHk6YWJj\xff", ""},
	}
	for _, tt := range tests {
		got, ok := decodeBase64(tt.in)
		switch {
		case tt.want == "" && ok:
			t.Errorf("decodeBase64(%q) = %q, want a failure, as Python raises", tt.in, got)
		case tt.want != "" && (!ok || string(got) != tt.want):
			t.Errorf("decodeBase64(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

// TestBasicCredentialsTrimAsPythonStrips: str.strip() also takes the
// information separators U+001C to U+001F for white space.
func TestBasicCredentialsTrimAsPythonStrips(t *testing.T) {
	// base64 of "\x1cuser:pass\x1f"
	user, password, ok := basicCredentials("HHVzZXI6cGFzcx8=")
	if !ok || user != "user" || password != "pass" {
		t.Fatalf("basicCredentials = %q, %q, %v; want user, pass", user, password, ok)
	}
}
