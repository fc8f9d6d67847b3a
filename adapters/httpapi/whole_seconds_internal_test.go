package httpapi

import "testing"

// safir's SecondsTimedelta is float(v) with no strip (safir/pydantic/_types.py).
// Python's float() skips ASCII white space (Py_ISSPACE) and Unicode white
// space above 127, but not the information separators 1C to 1F, which
// str.isspace (and so isPythonSpace) counts: float("\x1c600") is a
// ValueError, a 422 in Gafaelfawr.
func TestWholeSecondsRefusesInformationSeparators(t *testing.T) {
	for _, v := range []string{"\x1c600", "600\x1d", "\x1e600\x1f"} {
		if got, ok := wholeSeconds(v); ok {
			t.Errorf("wholeSeconds(%q) = %d, true; Python's float() refuses it", v, got)
		}
	}
}
