package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tokencache/tokencache/domain"
)

// nameCases are names a person could mistake for others, or that would
// change how a log line or a terminal shows what follows them, and names
// that must stay valid. Every username Gafaelfawr makes
// (^[a-z0-9](?:[a-z0-9]|-[a-z0-9])*[a-z](?:[a-z0-9]|-[a-z0-9])*$) is among
// the valid ones in kind.
var nameCases = []nameCase{
	{"plain", "portal", true},
	{"Gafaelfawr username", "rra-2", true},
	{"punctuation", "vo-cutouts_2.x", true},
	{"inner space", "my portal", true},
	{"accented", "portál", true},
	{"combining accent", "portal\u0301", true},
	{"CJK", "日本", true},
	{"empty", "", true}, // "no service"; Validate says where it is needed

	{"lone space", " ", false},
	{"leading space", " portal", false},
	{"trailing space", "portal ", false},
	{"NUL", "por\x00tal", false},
	{"tab", "ali\tce", false},
	{"newline", "portal\n", false},
	{"DEL", "portal\x7f", false},
	{"NEL (C1 control)", "portal\u0085", false},
	{"C1 control", "\u009bportal", false},
	{"no-break space", "my\u00a0portal", false},
	{"ideographic space", "portal\u3000", false},
	{"em space", "my\u2003portal", false},
	{"line separator", "portal\u2028", false},
	{"paragraph separator", "portal\u2029", false},
	{"soft hyphen", "por\u00adtal", false},
	{"zero-width space", "por\u200btal", false},
	{"zero-width non-joiner", "por\u200ctal", false},
	{"zero-width joiner", "por\u200dtal", false},
	{"left-to-right mark", "portal\u200e", false},
	{"right-to-left mark", "portal\u200f", false},
	{"left-to-right embedding", "\u202aportal", false},
	{"right-to-left override", "\u202elatrop", false},
	{"word joiner", "por\u2060tal", false},
	{"invisible plus", "por\u2064tal", false},
	{"byte-order mark", "\ufeffportal", false},
	{"combining grapheme joiner", "por\u034ftal", false},
	{"Hangul filler", "por\u3164tal", false},
	{"variation selector", "portal\ufe0f", false},
	{"tag character", "portal\U000e0041", false},
	{"private use", "portal\ue000", false},
	{"unassigned", "portal\U000effff", false},
	{"invalid UTF-8", "port\xffal", false},
	{"surrogate half in WTF-8", "port\xed\xa0\x80al", false},
}

type nameCase struct {
	name  string
	value string
	ok    bool
}

func TestVisibleName(t *testing.T) {
	for _, tc := range nameCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.VisibleName(tc.value); got != tc.ok {
				t.Errorf("VisibleName(%+q) = %v, want %v", tc.value, got, tc.ok)
			}
		})
	}
}

// Names that are not visible are refused as a service and as the parent's
// username, before anything is read or written; so are names too long for
// the stores, however they are made.
func TestValidateRefusesInvisibleNames(t *testing.T) {
	longest := strings.Repeat("é", domain.MaxNameLength)
	cases := append(slices.Clone(nameCases),
		nameCase{"longest", longest, true}, nameCase{"too long", longest + "e", false})
	for _, tc := range cases {
		if tc.value == "" {
			continue // an empty service or username is refused for another reason
		}
		t.Run("service "+tc.name, func(t *testing.T) {
			req := domain.NewInternalRequest(testParent(t), tc.value, []string{"read:all"}, "192.0.2.1", 0)
			checkNameValidation(t, req, tc.ok)
		})
		t.Run("username "+tc.name, func(t *testing.T) {
			p := testParent(t)
			p.Username = tc.value
			checkNameValidation(t, domain.NewNotebookRequest(p, "192.0.2.1", 0), tc.ok)
		})
	}
}

func checkNameValidation(t *testing.T, req domain.ChildRequest, ok bool) {
	t.Helper()
	err := req.Validate(testNow, testLifetime)
	if ok && err != nil {
		t.Fatalf("err = %v, want none", err)
	}
	if !ok && !errors.Is(err, domain.ErrInvalidRequest) {
		t.Fatalf("err = %v, want ErrInvalidRequest", err)
	}
}
