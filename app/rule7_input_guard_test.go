package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// Rule 7: bad input is refused before anything is read or written. The
// fixture's gomock stores expect no call at all, so any store access fails
// the test.

func TestRule7InputGuard(t *testing.T) {
	type request struct {
		service    string
		scopes     []string
		ip         string
		minimum    time.Duration
		notebook   bool
		editParent func(*domain.TokenData)
	}
	tests := []struct {
		name string
		req  request
		want error
	}{
		{"EmptyUsername", request{editParent: func(p *domain.TokenData) { p.Username = "" }}, domain.ErrInvalidRequest},
		{"EmptyParent", request{editParent: func(p *domain.TokenData) { *p = domain.TokenData{} }}, domain.ErrInvalidRequest},
		{"MalformedParentKey", request{editParent: func(p *domain.TokenData) { p.Token.Key = "short" }}, domain.ErrInvalidRequest},
		{"MalformedParentSecret", request{editParent: func(p *domain.TokenData) { p.Token.Secret = strings.Repeat("+", 22) }}, domain.ErrInvalidRequest},
		{"EmptyService", request{service: "-"}, domain.ErrInvalidRequest},
		{"BadScopeSyntax", request{scopes: []string{"read:all", "read all"}}, domain.ErrInvalidRequest},
		{"EmptyScope", request{scopes: []string{""}}, domain.ErrInvalidRequest},
		{"ScopeNotHeldByParent", request{scopes: []string{"admin:token"}}, domain.ErrPermissionDenied},
		{"UnparsableIP", request{ip: "192.0.2"}, domain.ErrInvalidRequest},
		{"EmptyIP", request{ip: "-"}, domain.ErrInvalidRequest},
		{"NegativeMinimumLifetime", request{minimum: -time.Second}, domain.ErrInvalidRequest},
		{"MinimumLifetimeTooLong", request{minimum: specLifetime - domain.MinimumLifetime + time.Second}, domain.ErrInvalidRequest},
		{"ParentExpired", request{editParent: func(p *domain.TokenData) { p.Expires = specNow.Add(-time.Second) }}, domain.ErrInvalidToken},
		{"ParentExpiresWithinASecond", request{editParent: func(p *domain.TokenData) { p.Expires = specNow.Add(999 * time.Millisecond) }}, domain.ErrInvalidToken},
		{"ParentExpiresBeforeMinimumLifetime", request{minimum: 3 * time.Hour,
			editParent: func(p *domain.TokenData) { p.Expires = specNow.Add(2 * time.Hour) }}, domain.ErrInsufficientLifetime},
		{"NotebookParentExpired", request{notebook: true,
			editParent: func(p *domain.TokenData) { p.Expires = specNow }}, domain.ErrInvalidToken},
		{"NotebookParentWithBadScope", request{notebook: true,
			editParent: func(p *domain.TokenData) { p.Scopes = []string{"read,all"} }}, domain.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := parent(t)
			if tt.req.editParent != nil {
				tt.req.editParent(&p)
			}
			service, scopes, ip := "portal", []string{"read:all"}, "192.0.2.1"
			if tt.req.service == "-" {
				service = ""
			}
			if tt.req.scopes != nil {
				scopes = tt.req.scopes
			}
			if tt.req.ip == "-" {
				ip = ""
			} else if tt.req.ip != "" {
				ip = tt.req.ip
			}
			var err error
			if tt.req.notebook {
				_, err = f.svc.GetNotebookToken(context.Background(), p, ip, tt.req.minimum)
			} else {
				_, err = f.svc.GetInternalToken(context.Background(), p, service, scopes, ip, tt.req.minimum)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if p.Token.Secret != "" && strings.Contains(err.Error(), p.Token.Secret) {
				t.Fatalf("error %q contains the parent's secret", err)
			}
		})
	}
}

func TestRule7LongestAllowedMinimumLifetimeIsAccepted(t *testing.T) {
	f := newFixture(t)
	var stored domain.TokenData
	f.expectCreate(&stored)
	p := parent(t)
	if _, err := f.svc.GetNotebookToken(context.Background(), p, "192.0.2.1", specLifetime-domain.MinimumLifetime); err != nil {
		t.Fatalf("minimum lifetime of exactly token lifetime - %v: %v", domain.MinimumLifetime, err)
	}
}
