package domain_test

import (
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

func TestTokenDataClone(t *testing.T) {
	original := testParent(t)
	clone := original.Clone()

	clone.Scopes[0] = "changed"
	clone.Groups[0].Name = "changed"
	if original.Scopes[0] == "changed" {
		t.Error("Clone shares Scopes with the original")
	}
	if original.Groups[0].Name == "changed" {
		t.Error("Clone shares Groups with the original")
	}

	unset := domain.TokenData{Username: "bot-x"}.Clone()
	if unset.Groups != nil || unset.Scopes != nil {
		t.Errorf("Clone of unset slices gave Scopes %#v and Groups %#v, want both nil", unset.Scopes, unset.Groups)
	}
}

func TestTokenDataLifetime(t *testing.T) {
	tests := []struct {
		name    string
		created time.Time
		expires time.Time
		want    time.Duration
	}{
		{name: "never expires", created: testNow, want: 0},
		{name: "full lifetime", created: testNow, expires: testNow.Add(testLifetime), want: testLifetime},
		{name: "one second", created: testNow, expires: testNow.Add(time.Second), want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := domain.TokenData{Created: tt.created, Expires: tt.expires}
			if got := data.Lifetime(); got != tt.want {
				t.Errorf("Lifetime() = %v, want %v", got, tt.want)
			}
		})
	}
}
