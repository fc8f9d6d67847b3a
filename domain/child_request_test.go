package domain_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// editRequest returns a copy of req changed by edit. The copy's parent
// shares no slices with req's.
func editRequest(req domain.ChildRequest, edit func(*domain.ChildRequest)) domain.ChildRequest {
	req.Parent = req.Parent.Clone()
	req.Scopes = slices.Clone(req.Scopes)
	edit(&req)
	return req
}

func TestChildRequestValidate(t *testing.T) {
	parent := testParent(t)
	internal := domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 0)
	notebook := domain.NewNotebookRequest(parent, "192.0.2.1", 0)
	longestMinimum := testLifetime - domain.MinimumLifetime

	tests := []struct {
		name    string
		req     domain.ChildRequest
		wantErr error // nil: valid
	}{
		{name: "internal", req: internal},
		{name: "notebook, which has no service", req: notebook},
		{name: "internal, no scopes", req: domain.NewInternalRequest(parent, "portal", nil, "192.0.2.1", 0)},
		{name: "internal, all the parent's scopes",
			req: domain.NewInternalRequest(parent, "portal", parent.Scopes, "192.0.2.1", 0)},

		// The parent.
		{name: "empty username", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Username = "" })},
		{name: "no parent token", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Token = domain.Token{} })},
		{name: "parent key of 21 characters", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Token.Key = r.Parent.Token.Key[:21] })},
		{name: "parent key with a slash", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Token.Key = "/" + r.Parent.Token.Key[1:] })},
		{name: "parent secret of 23 characters", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Token.Secret += "x" })},
		{name: "parent secret with a plus", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Token.Secret = "+" + r.Parent.Token.Secret[1:] })},
		{name: "empty parent secret", wantErr: domain.ErrInvalidRequest,
			req: editRequest(notebook, func(r *domain.ChildRequest) { r.Parent.Token.Secret = "" })},

		// The service.
		{name: "internal, empty service", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Service = "" })},

		// Scope syntax, then whether the parent holds the scopes.
		{name: "empty scope", wantErr: domain.ErrInvalidRequest,
			req: domain.NewInternalRequest(parent, "portal", []string{""}, "192.0.2.1", 0)},
		{name: "scope with a space", wantErr: domain.ErrInvalidRequest,
			req: domain.NewInternalRequest(parent, "portal", []string{"read all"}, "192.0.2.1", 0)},
		{name: "scope with a comma", wantErr: domain.ErrInvalidRequest,
			req: domain.NewInternalRequest(parent, "portal", []string{"read:all,user:token"}, "192.0.2.1", 0)},
		{name: "notebook, parent holds a malformed scope", wantErr: domain.ErrInvalidRequest,
			req: editRequest(notebook, func(r *domain.ChildRequest) { r.Scopes = append(r.Scopes, "bad scope") })},
		{name: "scope not held", wantErr: domain.ErrPermissionDenied,
			req: domain.NewInternalRequest(parent, "portal", []string{"admin:token"}, "192.0.2.1", 0)},
		{name: "one of two scopes not held", wantErr: domain.ErrPermissionDenied,
			req: domain.NewInternalRequest(parent, "portal", []string{"read:all", "admin:token"}, "192.0.2.1", 0)},
		{name: "scope syntax before scope not held", wantErr: domain.ErrInvalidRequest,
			req: domain.NewInternalRequest(parent, "portal", []string{"admin:token", "bad scope"}, "192.0.2.1", 0)},

		// The IP address.
		{name: "IPv6 address", req: editRequest(internal, func(r *domain.ChildRequest) { r.IPAddress = "2001:db8::1" })},
		{name: "IPv6 loopback", req: editRequest(internal, func(r *domain.ChildRequest) { r.IPAddress = "::1" })},
		{name: "IPv4-mapped IPv6 address",
			req: editRequest(internal, func(r *domain.ChildRequest) { r.IPAddress = "::ffff:192.0.2.1" })},
		{name: "empty IP address", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.IPAddress = "" })},
		{name: "IP address not an address", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.IPAddress = "not-an-ip" })},
		{name: "IPv4 address out of range", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.IPAddress = "300.1.1.1" })},
		{name: "IP address with a port", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.IPAddress = "192.0.2.1:8080" })},
		{name: "IP address with a space", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.IPAddress = " 192.0.2.1" })},
		{name: "permission before IP address", wantErr: domain.ErrPermissionDenied,
			req: domain.NewInternalRequest(parent, "portal", []string{"admin:token"}, "not-an-ip", 0)},

		// The minimum lifetime.
		{name: "negative minimum lifetime", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.MinimumLifetime = -time.Nanosecond })},
		{name: "longest minimum lifetime",
			req: editRequest(internal, func(r *domain.ChildRequest) { r.MinimumLifetime = longestMinimum })},
		{name: "minimum lifetime a second too long", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.MinimumLifetime = longestMinimum + time.Second })},
		{name: "minimum lifetime as long as the token lifetime", wantErr: domain.ErrInvalidRequest,
			req: editRequest(notebook, func(r *domain.ChildRequest) { r.MinimumLifetime = testLifetime })},

		// The parent's expiry.
		{name: "parent expired", wantErr: domain.ErrInvalidToken,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Expires = testNow.Add(-time.Hour) })},
		{name: "parent expires now", wantErr: domain.ErrInvalidToken,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Expires = testNow })},
		{name: "parent expires in 999ms", wantErr: domain.ErrInvalidToken,
			req: editRequest(notebook, func(r *domain.ChildRequest) { r.Parent.Expires = testNow.Add(999 * time.Millisecond) })},
		{name: "parent expires in exactly a second",
			req: editRequest(notebook, func(r *domain.ChildRequest) { r.Parent.Expires = testNow.Add(time.Second) })},
		{name: "parent never expires",
			req: editRequest(internal, func(r *domain.ChildRequest) { r.Parent.Expires = time.Time{} })},
		{name: "IP address before parent's expiry", wantErr: domain.ErrInvalidRequest,
			req: editRequest(internal, func(r *domain.ChildRequest) {
				r.IPAddress = "not-an-ip"
				r.Parent.Expires = testNow.Add(-time.Hour)
			})},

		// The parent outliving the minimum lifetime.
		{name: "parent expires before the minimum lifetime", wantErr: domain.ErrInsufficientLifetime,
			req: editRequest(internal, func(r *domain.ChildRequest) {
				r.MinimumLifetime = time.Hour
				r.Parent.Expires = testNow.Add(time.Hour - time.Second)
			})},
		{name: "parent expires exactly at the minimum lifetime",
			req: editRequest(internal, func(r *domain.ChildRequest) {
				r.MinimumLifetime = time.Hour
				r.Parent.Expires = testNow.Add(time.Hour)
			})},
		{name: "parent expires before the minimum lifetime, notebook", wantErr: domain.ErrInsufficientLifetime,
			req: editRequest(notebook, func(r *domain.ChildRequest) {
				r.MinimumLifetime = longestMinimum
				r.Parent.Expires = testNow.Add(longestMinimum - time.Second)
			})},
		{name: "parent never expires, minimum lifetime set",
			req: editRequest(internal, func(r *domain.ChildRequest) {
				r.MinimumLifetime = longestMinimum
				r.Parent.Expires = time.Time{}
			})},
		{name: "parent expiring within a second before the minimum lifetime", wantErr: domain.ErrInvalidToken,
			req: editRequest(internal, func(r *domain.ChildRequest) {
				r.MinimumLifetime = time.Hour
				r.Parent.Expires = testNow.Add(time.Millisecond)
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate(testNow, testLifetime)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Validate error = %v, want one wrapping %v", err, tt.wantErr)
			}
			if err.Error() == tt.wantErr.Error() {
				t.Errorf("Validate error %q does not say what was wrong", err)
			}
			assertNoSecret(t, err, tt.req.Parent.Token.Secret)
			assertNoSecret(t, err, parent.Token.Secret)
		})
	}
}

func TestChildRequestQuery(t *testing.T) {
	parent := testParent(t)
	parent.Expires = testNow.Add(time.Hour)

	tests := []struct {
		name string
		req  domain.ChildRequest
		want domain.ChildQuery
	}{
		{
			name: "notebook",
			req:  domain.NewNotebookRequest(parent, "192.0.2.1", 0),
			want: domain.ChildQuery{
				ParentKey:     parent.Token.Key,
				Type:          domain.TokenTypeNotebook,
				Scopes:        parent.Scopes,
				MinExpiration: parent.Expires,
			},
		},
		{
			name: "internal",
			req:  domain.NewInternalRequest(parent, "portal", []string{"user:token", "read:all"}, "192.0.2.1", 0),
			want: domain.ChildQuery{
				ParentKey:     parent.Token.Key,
				Type:          domain.TokenTypeInternal,
				Service:       "portal",
				Scopes:        []string{"read:all", "user:token"},
				MinExpiration: parent.Expires,
			},
		},
		{
			name: "internal, minimum lifetime",
			req:  domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 10*time.Minute),
			want: domain.ChildQuery{
				ParentKey:     parent.Token.Key,
				Type:          domain.TokenTypeInternal,
				Service:       "portal",
				Scopes:        []string{"read:all"},
				MinExpiration: testNow.Add(10 * time.Minute),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.req.Query(testNow, testLifetime)
			if !got.MinExpiration.Equal(tt.want.MinExpiration) {
				t.Errorf("MinExpiration = %v, want %v", got.MinExpiration, tt.want.MinExpiration)
			}
			got.MinExpiration = tt.want.MinExpiration
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Query =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestChildRequestReusable(t *testing.T) {
	parent := testParent(t)
	internal := domain.NewInternalRequest(parent, "portal", []string{"read:all", "user:token"}, "192.0.2.1", 0)
	notebook := domain.NewNotebookRequest(parent, "192.0.2.1", 0)
	// Children made a minute ago, as the service would have made them.
	made := testNow.Add(-time.Minute)
	internalChild := internal.NewChild(testToken(t, 2), made, testLifetime)
	notebookChild := notebook.NewChild(testToken(t, 3), made, testLifetime)

	// A parent that expires in an hour, and a child of it made 23 hours
	// ago: far past half-life, but no new child could outlive it.
	shortParent := parent
	shortParent.Expires = testNow.Add(time.Hour)
	shortInternal := domain.NewInternalRequest(shortParent, "portal", []string{"read:all"}, "192.0.2.1", 0)
	shortChild := shortInternal.NewChild(testToken(t, 4), testNow.Add(-23*time.Hour), testLifetime)

	withChild := func(child domain.TokenData, edit func(*domain.TokenData)) domain.TokenData {
		child = child.Clone()
		edit(&child)
		return child
	}

	tests := []struct {
		name  string
		req   domain.ChildRequest
		child domain.TokenData
		now   time.Time
		want  bool
	}{
		{name: "internal", req: internal, child: internalChild, want: true},
		{name: "internal, wrong type", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Type = domain.TokenTypeNotebook })},
		{name: "internal, wrong user", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Username = "mallory" })},
		{name: "internal, wrong service", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Service = "tap" })},
		{name: "internal, service unknown (before Gafaelfawr 12.0)", req: internal, want: true,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Service = "" })},
		{name: "internal, more scopes than requested", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Scopes = append(c.Scopes, "exec:notebook") })},
		{name: "internal, fewer scopes than requested", req: internal, want: true,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Scopes = []string{"read:all"} })},
		{name: "internal, no scopes", req: internal, want: true,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Scopes = []string{} })},
		{name: "internal, past half-life", req: internal, child: internalChild, want: false,
			now: made.Add(testLifetime/2 + time.Second)},
		{name: "internal, minimum lifetime missed", child: internalChild, want: false,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.MinimumLifetime = testLifetime })},
		{name: "internal, minimum lifetime met", child: internalChild, want: true,
			req: editRequest(internal, func(r *domain.ChildRequest) { r.MinimumLifetime = testLifetime / 2 })},
		{name: "internal, past half-life at the best expiry", req: shortInternal, child: shortChild, want: true},
		{name: "internal, past half-life at the best expiry, minimum met", child: shortChild, want: true,
			req: editRequest(shortInternal, func(r *domain.ChildRequest) { r.MinimumLifetime = time.Hour })},
		{name: "internal, past half-life at the best expiry, minimum missed", child: shortChild, want: false,
			req: editRequest(shortInternal, func(r *domain.ChildRequest) { r.MinimumLifetime = time.Hour + time.Second })},

		{name: "notebook", req: notebook, child: notebookChild, want: true},
		{name: "notebook, wrong type", req: notebook, want: false,
			child: withChild(notebookChild, func(c *domain.TokenData) { c.Type = domain.TokenTypeInternal })},
		{name: "notebook, has a service", req: notebook, want: false,
			child: withChild(notebookChild, func(c *domain.TokenData) { c.Service = "portal" })},
		{name: "notebook, parent has since lost a scope", child: notebookChild, want: false,
			req: domain.NewNotebookRequest(withChild(parent, func(p *domain.TokenData) {
				p.Scopes = []string{"exec:notebook", "read:all"}
			}), "192.0.2.1", 0)},
		{name: "notebook, parent has since gained a scope", child: notebookChild, want: true,
			req: domain.NewNotebookRequest(withChild(parent, func(p *domain.TokenData) {
				p.Scopes = append(p.Scopes, "admin:token")
			}), "192.0.2.1", 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			if got := tt.req.Reusable(&tt.child, now, testLifetime); got != tt.want {
				t.Errorf("Reusable = %v, want %v", got, tt.want)
			}
		})
	}
}

// A child that expires with its parent meets the cut-off, which the
// parent's expiry caps, even once both have expired: then it is not
// reusable.
func TestChildRequestReusableFromRepositoryRefusesAnExpiredChild(t *testing.T) {
	parent := testParent(t)
	parent.Expires = testNow.Add(time.Hour).Truncate(time.Second)
	req := domain.NewNotebookRequest(parent, "192.0.2.1", 0)
	child := req.NewChild(testToken(t, 4), testNow.Add(-time.Hour), 24*time.Hour)
	if !child.Expires.Equal(parent.Expires) {
		t.Fatalf("the child expires at %v, want with its parent at %v", child.Expires, parent.Expires)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"a second before", parent.Expires.Add(-time.Second), true},
		{"as it expires", parent.Expires, false},
		{"a second after", parent.Expires.Add(time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cutOff := req.Query(tc.at, 24*time.Hour).MinExpiration
			if got := req.ReusableFromRepository(&child, cutOff, tc.at); got != tc.want {
				t.Errorf("ReusableFromRepository at %v (cut-off %v) = %v, want %v", tc.at, cutOff, got, tc.want)
			}
		})
	}
}

func TestChildRequestReusableFromRepository(t *testing.T) {
	parent := testParent(t)
	internal := domain.NewInternalRequest(parent, "portal", []string{"read:all", "user:token"}, "192.0.2.1", 0)
	notebook := domain.NewNotebookRequest(parent, "192.0.2.1", 0)
	// The lookup's cut-off with a 10-day token lifetime: now plus 5 days.
	const tokenLifetime = 10 * 24 * time.Hour
	cutOff := internal.Query(testNow, tokenLifetime).MinExpiration
	// Children made 23 days ago by a Gafaelfawr whose token lifetime was
	// 30 days: 7 days left, far past half-life, yet after the cut-off.
	made := testNow.Add(-23 * 24 * time.Hour)
	internalChild := internal.NewChild(testToken(t, 2), made, 30*24*time.Hour)
	notebookChild := notebook.NewChild(testToken(t, 3), made, 30*24*time.Hour)

	withChild := func(child domain.TokenData, edit func(*domain.TokenData)) domain.TokenData {
		child = child.Clone()
		edit(&child)
		return child
	}

	tests := []struct {
		name  string
		req   domain.ChildRequest
		child domain.TokenData
		want  bool
	}{
		{name: "internal, past half-life, after the cut-off", req: internal, child: internalChild, want: true},
		{name: "internal, expires at the cut-off", req: internal, want: true,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Expires = cutOff })},
		{name: "internal, expires a second before the cut-off", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Expires = cutOff.Add(-time.Second) })},
		{name: "internal, never expires", req: internal, want: true,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Expires = time.Time{} })},
		{name: "internal, wrong type", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Type = domain.TokenTypeNotebook })},
		{name: "internal, wrong user", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Username = "mallory" })},
		{name: "internal, wrong service", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Service = "tap" })},
		{name: "internal, service unknown (before Gafaelfawr 12.0)", req: internal, want: true,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Service = "" })},
		{name: "internal, more scopes than requested", req: internal, want: false,
			child: withChild(internalChild, func(c *domain.TokenData) { c.Scopes = append(c.Scopes, "exec:notebook") })},

		{name: "notebook, past half-life, after the cut-off", req: notebook, child: notebookChild, want: true},
		{name: "notebook, expires a second before the cut-off", req: notebook, want: false,
			child: withChild(notebookChild, func(c *domain.TokenData) { c.Expires = cutOff.Add(-time.Second) })},
		{name: "notebook, wrong type", req: notebook, want: false,
			child: withChild(notebookChild, func(c *domain.TokenData) { c.Type = domain.TokenTypeInternal })},
		{name: "notebook, has a service", req: notebook, want: false,
			child: withChild(notebookChild, func(c *domain.TokenData) { c.Service = "portal" })},
		{name: "notebook, parent has since lost a scope", child: notebookChild, want: false,
			req: domain.NewNotebookRequest(withChild(parent, func(p *domain.TokenData) {
				p.Scopes = []string{"exec:notebook", "read:all"}
			}), "192.0.2.1", 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.ReusableFromRepository(&tt.child, cutOff, testNow); got != tt.want {
				t.Errorf("ReusableFromRepository = %v, want %v", got, tt.want)
			}
		})
	}

	// The same child, cached, is past half-life: a cache hit is refused,
	// and the request goes on to the repository, which hands it out.
	if internal.Reusable(&internalChild, testNow, tokenLifetime) {
		t.Errorf("Reusable (a cache hit) = true for a child past half-life, want false")
	}
}

func TestChildRequestNewChild(t *testing.T) {
	parent := testParent(t)
	token := testToken(t, 2)
	now := testNow.Add(250 * time.Millisecond)

	shortParent := parent.Clone()
	shortParent.Expires = testNow.Add(time.Hour)
	anonymous := domain.TokenData{Token: parent.Token, Username: "bot-ci", Type: domain.TokenTypeService,
		Scopes: []string{"read:all"}}

	tests := []struct {
		name string
		req  domain.ChildRequest
		want domain.TokenData
	}{
		{
			name: "internal",
			req:  domain.NewInternalRequest(parent, "portal", []string{"user:token", "read:all"}, "192.0.2.1", 0),
			want: domain.TokenData{
				Token: token, Username: "alice", Type: domain.TokenTypeInternal, Service: "portal",
				Scopes:  []string{"read:all", "user:token"},
				Created: testNow, Expires: testNow.Add(testLifetime),
				Name: "Alice Example", Email: "alice@example.com", UID: 1000, GID: 1000,
				Groups: []domain.Group{{Name: "alice", ID: 1000}, {Name: "staff", ID: 2000}},
			},
		},
		{
			name: "notebook",
			req:  domain.NewNotebookRequest(parent, "192.0.2.1", 0),
			want: domain.TokenData{
				Token: token, Username: "alice", Type: domain.TokenTypeNotebook,
				Scopes:  []string{"exec:notebook", "read:all", "user:token"},
				Created: testNow, Expires: testNow.Add(testLifetime),
				Name: "Alice Example", Email: "alice@example.com", UID: 1000, GID: 1000,
				Groups: []domain.Group{{Name: "alice", ID: 1000}, {Name: "staff", ID: 2000}},
			},
		},
		{
			name: "internal, capped at the parent's expiry",
			req:  domain.NewInternalRequest(shortParent, "portal", []string{"read:all"}, "192.0.2.1", 0),
			want: domain.TokenData{
				Token: token, Username: "alice", Type: domain.TokenTypeInternal, Service: "portal",
				Scopes:  []string{"read:all"},
				Created: testNow, Expires: shortParent.Expires,
				Name: "Alice Example", Email: "alice@example.com", UID: 1000, GID: 1000,
				Groups: []domain.Group{{Name: "alice", ID: 1000}, {Name: "staff", ID: 2000}},
			},
		},
		{
			name: "internal, no scopes",
			req:  domain.NewInternalRequest(parent, "portal", nil, "192.0.2.1", 0),
			want: domain.TokenData{
				Token: token, Username: "alice", Type: domain.TokenTypeInternal, Service: "portal",
				Scopes:  []string{},
				Created: testNow, Expires: testNow.Add(testLifetime),
				Name: "Alice Example", Email: "alice@example.com", UID: 1000, GID: 1000,
				Groups: []domain.Group{{Name: "alice", ID: 1000}, {Name: "staff", ID: 2000}},
			},
		},
		{
			name: "notebook, parent without user information",
			req:  domain.NewNotebookRequest(anonymous, "192.0.2.1", 0),
			want: domain.TokenData{
				Token: token, Username: "bot-ci", Type: domain.TokenTypeNotebook,
				Scopes:  []string{"read:all"},
				Created: testNow, Expires: testNow.Add(testLifetime),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.req.NewChild(token, now, testLifetime)
			assertTokenData(t, got, tt.want)
		})
	}
}

func TestChildRequestNewChildSharesNoSlices(t *testing.T) {
	parent := testParent(t)
	req := domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "192.0.2.1", 0)
	child := req.NewChild(testToken(t, 2), testNow, testLifetime)

	parent.Groups[0].Name = "changed"
	req.Parent.Groups[1].Name = "changed"
	req.Scopes[0] = "changed"
	if child.Groups[0].Name == "changed" || child.Groups[1].Name == "changed" {
		t.Errorf("changing the parent's groups changed the child's: %+v", child.Groups)
	}
	if child.Scopes[0] == "changed" {
		t.Errorf("changing the request's scopes changed the child's: %q", child.Scopes)
	}

	parent = testParent(t)
	req = domain.NewNotebookRequest(parent, "192.0.2.1", 0)
	child = req.NewChild(testToken(t, 2), testNow, testLifetime)
	child.Groups[0].Name = "changed"
	child.Scopes[0] = "changed"
	if parent.Groups[0].Name == "changed" {
		t.Errorf("changing the child's groups changed the parent's: %+v", parent.Groups)
	}
	if parent.Scopes[0] == "changed" || req.Scopes[0] == "changed" {
		t.Errorf("changing the child's scopes changed the parent's %q or the request's %q", parent.Scopes, req.Scopes)
	}
}

func TestChildRequestRecord(t *testing.T) {
	parent := testParent(t)
	req := domain.NewInternalRequest(parent, "portal", []string{"read:all"}, "2001:db8::1", 0)
	child := req.NewChild(testToken(t, 2), testNow, testLifetime)

	got := req.Record(child)
	want := domain.TokenRecord{
		Data:      child,
		ParentKey: parent.Token.Key,
		Actor:     "alice",
		IPAddress: "2001:db8::1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Record = {ParentKey: %q, Actor: %q, IPAddress: %q, Data: token %q}, want {%q, %q, %q, token %q}",
			got.ParentKey, got.Actor, got.IPAddress, got.Data.Token.Key,
			want.ParentKey, want.Actor, want.IPAddress, want.Data.Token.Key)
	}
}

// assertTokenData fails the test unless got and want hold the same data,
// comparing times as instants. It reports differences field by field and
// never prints a secret.
func assertTokenData(t *testing.T, got, want domain.TokenData) {
	t.Helper()
	if got.Token.Key != want.Token.Key || !got.Token.SecretMatches(want.Token) {
		t.Errorf("token %q, want %q (or the secrets differ)", got.Token.Key, want.Token.Key)
	}
	if got.Username != want.Username || got.Type != want.Type || got.Service != want.Service {
		t.Errorf("username, type, service = %q, %q, %q, want %q, %q, %q",
			got.Username, got.Type, got.Service, want.Username, want.Type, want.Service)
	}
	if !reflect.DeepEqual(got.Scopes, want.Scopes) {
		t.Errorf("scopes = %#v, want %#v", got.Scopes, want.Scopes)
	}
	if !got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) {
		t.Errorf("created, expires = %v, %v, want %v, %v", got.Created, got.Expires, want.Created, want.Expires)
	}
	if got.Name != want.Name || got.Email != want.Email || got.UID != want.UID || got.GID != want.GID {
		t.Errorf("name, email, UID, GID = %q, %q, %d, %d, want %q, %q, %d, %d",
			got.Name, got.Email, got.UID, got.GID, want.Name, want.Email, want.UID, want.GID)
	}
	if !reflect.DeepEqual(got.Groups, want.Groups) {
		t.Errorf("groups = %#v, want %#v", got.Groups, want.Groups)
	}
}
