package domain_test

import (
	"slices"
	"testing"

	"github.com/tokencache/tokencache/domain"
)

func TestCanonicalScopes(t *testing.T) {
	tests := []struct {
		name   string
		scopes []string
		want   []string
	}{
		{name: "nil", scopes: nil, want: []string{}},
		{name: "empty", scopes: []string{}, want: []string{}},
		{name: "one", scopes: []string{"read:all"}, want: []string{"read:all"}},
		{name: "sorted already", scopes: []string{"a", "b", "c"}, want: []string{"a", "b", "c"}},
		{name: "unsorted", scopes: []string{"user:token", "exec:notebook", "read:all"},
			want: []string{"exec:notebook", "read:all", "user:token"}},
		{name: "duplicates", scopes: []string{"b", "a", "b", "a", "b"}, want: []string{"a", "b"}},
		{name: "all the same", scopes: []string{"a", "a", "a"}, want: []string{"a"}},
		{name: "byte order, upper case first", scopes: []string{"b", "B", "a", "A"}, want: []string{"A", "B", "a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := slices.Clone(tt.scopes)
			got := domain.CanonicalScopes(input)
			if got == nil {
				t.Fatalf("CanonicalScopes(%q) = nil, want a non-nil slice", tt.scopes)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("CanonicalScopes(%q) = %q, want %q", tt.scopes, got, tt.want)
			}
			if !slices.Equal(input, tt.scopes) {
				t.Errorf("CanonicalScopes changed its input from %q to %q", tt.scopes, input)
			}
			if len(got) > 0 && len(input) > 0 {
				got[0] = "changed"
				if slices.Contains(input, "changed") {
					t.Errorf("CanonicalScopes(%q) shares its result's array with its input", tt.scopes)
				}
			}
		})
	}
}

func TestValidScope(t *testing.T) {
	tests := []struct {
		scope string
		want  bool
	}{
		{"read:all", true},
		{"exec:notebook", true},
		{"a", true},
		{"Z9", true},
		{"admin:token.v2_beta-1", true},
		{":._-", true},
		{"", false},
		{" ", false},
		{"read all", false},
		{"read:all ", false},
		{"read:all,user:token", false},
		{"read/all", false},
		{"read+all", false},
		{"read*", false},
		{"read:all\n", false},
		{"read:all\x00", false},
		{"lecture:tôt", false},
		{"read:ａll", false}, // full-width "a"
		{"日本", false},
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			if got := domain.ValidScope(tt.scope); got != tt.want {
				t.Errorf("ValidScope(%q) = %v, want %v", tt.scope, got, tt.want)
			}
		})
	}
}

func TestScopesSubset(t *testing.T) {
	tests := []struct {
		name       string
		sub, super []string
		want       bool
	}{
		{name: "both nil", want: true},
		{name: "nil in some", sub: nil, super: []string{"a"}, want: true},
		{name: "empty in nil", sub: []string{}, super: nil, want: true},
		{name: "some in nil", sub: []string{"a"}, super: nil, want: false},
		{name: "equal", sub: []string{"a", "b"}, super: []string{"a", "b"}, want: true},
		{name: "proper subset", sub: []string{"b"}, super: []string{"a", "b", "c"}, want: true},
		{name: "unsorted", sub: []string{"c", "a"}, super: []string{"b", "c", "a"}, want: true},
		{name: "duplicates in sub", sub: []string{"a", "a"}, super: []string{"a"}, want: true},
		{name: "superset", sub: []string{"a", "b", "c"}, super: []string{"a", "b"}, want: false},
		{name: "disjoint", sub: []string{"x"}, super: []string{"a", "b"}, want: false},
		{name: "prefix is not membership", sub: []string{"read"}, super: []string{"read:all"}, want: false},
		{name: "case matters", sub: []string{"Read:all"}, super: []string{"read:all"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.ScopesSubset(tt.sub, tt.super); got != tt.want {
				t.Errorf("ScopesSubset(%q, %q) = %v, want %v", tt.sub, tt.super, got, tt.want)
			}
		})
	}
}

func TestJoinAndSplitScopes(t *testing.T) {
	tests := []struct {
		name   string
		scopes []string
		joined string
	}{
		{name: "nil", scopes: nil, joined: ""},
		{name: "empty", scopes: []string{}, joined: ""},
		{name: "one", scopes: []string{"read:all"}, joined: "read:all"},
		{name: "canonical", scopes: []string{"exec:notebook", "read:all"}, joined: "exec:notebook,read:all"},
		{name: "unsorted with duplicates", scopes: []string{"user:token", "read:all", "user:token"},
			joined: "read:all,user:token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			joined := domain.JoinScopes(tt.scopes)
			if joined != tt.joined {
				t.Errorf("JoinScopes(%q) = %q, want %q", tt.scopes, joined, tt.joined)
			}
			split := domain.SplitScopes(joined)
			if split == nil {
				t.Fatalf("SplitScopes(%q) = nil, want a non-nil slice", joined)
			}
			if want := domain.CanonicalScopes(tt.scopes); !slices.Equal(split, want) {
				t.Errorf("SplitScopes(%q) = %q, want %q", joined, split, want)
			}
		})
	}
}

func TestSplitScopesMakesCanonical(t *testing.T) {
	got := domain.SplitScopes("user:token,read:all,user:token")
	if want := []string{"read:all", "user:token"}; !slices.Equal(got, want) {
		t.Errorf("SplitScopes = %q, want %q", got, want)
	}
}
