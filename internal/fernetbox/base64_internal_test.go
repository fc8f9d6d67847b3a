package fernetbox

import (
	"encoding/hex"
	"testing"
)

// The expected bytes are what Python 3.11's base64.urlsafe_b64decode gave
// for each input, given as latin-1 bytes; ok false where it raised.
func TestPythonB64DecodeAsPythonDecodes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // hex
		ok   bool
	}{
		{"", "", true},
		{"AAAA", "000000", true},
		{"AA==", "00", true},
		{"AA=", "", false},
		{"AA", "", false},
		{"A", "", false},
		{"AAA=", "0000", true},
		{"AAA", "", false},
		{"AA==AAAA", "00", true},
		{"AA=A=", "0000", true},
		{"A=AAA", "000000", true},
		{"=AAAA", "000000", true},
		{"AAAA====", "000000", true},
		{"QUJD", "414243", true},
		{"QU JD", "414243", true},
		{"QU\nJD\n", "414243", true},
		{"QUJ-_w==", "41427eff", true},
		{"QUJ+/w==", "41427eff", true},
		{"Q!U@J#D", "414243", true},
		{"QUJDRA", "", false},
		{"QUJDRA=", "", false},
		{"QUJDRA==", "41424344", true},
		{"QUJDRA===x", "41424344", true},
		{"QUJDR", "", false},
		{"QUJDRB==", "41424344", true},
		{"AB=CD==", "001083", true},
		{"A\xe9AAA", "000000", true},
		{"=", "", true},
		{"==", "", true},
		{"AAA=A", "0000", true},
	} {
		got, ok := pythonB64Decode(tt.in)
		if ok != tt.ok || ok && hex.EncodeToString(got) != tt.want {
			t.Errorf("pythonB64Decode(%+q) = %x, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
