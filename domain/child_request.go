package domain

import (
	"fmt"
	"net/netip"
	"time"
)

// ChildRequest is a request for a delegated child of a parent token: a
// notebook token or an internal token for one service.
type ChildRequest struct {
	Parent          TokenData
	Type            TokenType // TokenTypeNotebook or TokenTypeInternal
	Service         string    // internal only
	Scopes          []string  // internal: canonical requested scopes; notebook: the parent's
	IPAddress       string
	MinimumLifetime time.Duration // zero: not set
}

// NewNotebookRequest describes a request for parent's notebook token, which
// carries the parent's scopes.
func NewNotebookRequest(parent TokenData, ipAddress string, minimumLifetime time.Duration) ChildRequest {
	return ChildRequest{
		Parent:          parent,
		Type:            TokenTypeNotebook,
		Scopes:          CanonicalScopes(parent.Scopes),
		IPAddress:       ipAddress,
		MinimumLifetime: minimumLifetime,
	}
}

// NewInternalRequest describes a request for parent's internal token for
// service with the given scopes, which are made canonical.
func NewInternalRequest(parent TokenData, service string, scopes []string, ipAddress string, minimumLifetime time.Duration) ChildRequest {
	return ChildRequest{
		Parent:          parent,
		Type:            TokenTypeInternal,
		Service:         service,
		Scopes:          CanonicalScopes(scopes),
		IPAddress:       ipAddress,
		MinimumLifetime: minimumLifetime,
	}
}

// CacheKey is the key under which the child is cached and locked.
func (r *ChildRequest) CacheKey() CacheKey {
	if r.Type == TokenTypeNotebook {
		return NotebookCacheKey(r.Parent)
	}
	return InternalCacheKey(r.Parent, r.Service, r.Scopes)
}

// Validate checks the request before anything is read or written. The
// checks run in this order, and the first that fails decides the error:
// the parent (ErrInvalidRequest), the service (ErrInvalidRequest), the scope
// syntax (ErrInvalidRequest), the parent holding the scopes
// (ErrPermissionDenied), the IP address and the minimum lifetime
// (ErrInvalidRequest), the parent's expiry (ErrInvalidToken), and whether
// the parent outlives the minimum lifetime (ErrInsufficientLifetime).
func (r *ChildRequest) Validate(now time.Time, tokenLifetime time.Duration) error {
	if r.Parent.Username == "" {
		return fmt.Errorf("%w: parent token has no username", ErrInvalidRequest)
	}
	if !validName(r.Parent.Username) {
		return fmt.Errorf("%w: parent's username is longer than %d characters or is not visible (control, format or invisible characters, or a space at either end)", ErrInvalidRequest, MaxNameLength)
	}
	if problem := r.Parent.Token.problem(); problem != "" {
		// Not ErrInvalidToken as well: callers that test for it first
		// would take a caller's mistake for a bad bearer token.
		return fmt.Errorf("%w: parent %s", ErrInvalidRequest, problem)
	}
	switch {
	case r.Type == TokenTypeInternal && r.Service == "":
		return fmt.Errorf("%w: service is empty", ErrInvalidRequest)
	case !validName(r.Service):
		return fmt.Errorf("%w: service is longer than %d characters or is not visible (control, format or invisible characters, or a space at either end)", ErrInvalidRequest, MaxNameLength)
	case r.Type == TokenTypeNotebook && r.Service != "":
		return fmt.Errorf("%w: a notebook token has no service", ErrInvalidRequest)
	case r.Type != TokenTypeInternal && r.Type != TokenTypeNotebook:
		return fmt.Errorf("%w: cannot delegate a token of type %q", ErrInvalidRequest, r.Type)
	}
	for _, s := range r.Scopes {
		if !ValidScope(s) {
			return fmt.Errorf("%w: scope %q is not of the form [a-zA-Z0-9:._-]+", ErrInvalidRequest, s)
		}
	}
	for _, s := range r.Scopes {
		if !ScopesSubset([]string{s}, r.Parent.Scopes) {
			return fmt.Errorf("%w: parent token lacks scope %q", ErrPermissionDenied, s)
		}
	}
	if addr, err := netip.ParseAddr(r.IPAddress); err != nil || addr.Zone() != "" {
		// A zone ("fe80::1%eth0") parses here but not as PostgreSQL INET.
		return fmt.Errorf("%w: IP address %q does not parse", ErrInvalidRequest, r.IPAddress)
	}
	if r.MinimumLifetime < 0 {
		return fmt.Errorf("%w: minimum lifetime %v is negative", ErrInvalidRequest, r.MinimumLifetime)
	}
	if limit := tokenLifetime - MinimumLifetime; r.MinimumLifetime > limit {
		return fmt.Errorf("%w: minimum lifetime %v is longer than %v", ErrInvalidRequest, r.MinimumLifetime, limit)
	}
	// The parent's life is measured to the latest expiry a child can get,
	// so that a request accepted here can always be met by a child.
	if capped := childCap(r.Parent); !capped.IsZero() {
		if capped.Sub(now) < time.Second {
			return fmt.Errorf("%w: parent token has expired or expires within a second", ErrInvalidToken)
		}
		if left := capped.Sub(lifeFrom(now)); r.MinimumLifetime > 0 && left < r.MinimumLifetime {
			return fmt.Errorf("%w: parent token expires in %v, before the minimum lifetime %v",
				ErrInsufficientLifetime, left.Truncate(time.Second), r.MinimumLifetime)
		}
	}
	return nil
}

// Query is the repository lookup for an existing child that could serve
// this request at now.
func (r *ChildRequest) Query(now time.Time, tokenLifetime time.Duration) ChildQuery {
	return ChildQuery{
		ParentKey:     r.Parent.Token.Key,
		Type:          r.Type,
		Service:       r.Service,
		Scopes:        r.Scopes,
		MinExpiration: MinimumExpiration(r.Parent, now, r.MinimumLifetime, tokenLifetime),
	}
}

// Reusable reports whether child, as read from the token store on a cache
// hit, may be handed out for this request at now: it fits the request (see
// fits) and has enough life left (HasEnoughLife).
func (r *ChildRequest) Reusable(child *TokenData, now time.Time, tokenLifetime time.Duration) bool {
	if !r.fits(child) {
		return false
	}
	_, best := childTimes(r.Parent.Expires, now, tokenLifetime)
	return hasEnoughLife(child.Created, child.Expires, now, r.MinimumLifetime, best)
}

// ReusableFromRepository reports whether child, found by the repository
// lookup whose cut-off was minExpiration (ChildQuery.MinExpiration) and
// read from the token store, may be handed out for this request at now: it
// fits the request (see fits), and expires no earlier than the cut-off and
// after now, or never. (The cut-off is capped at the parent's expiry: a
// child that expires with its parent meets it even once both have
// expired.)
//
// Unlike a cache hit, it need not have half of its own lifetime left: the
// cut-off already says how much life is enough, and Gafaelfawr hands such a
// child out too, so replacing it would only make a duplicate.
func (r *ChildRequest) ReusableFromRepository(child *TokenData, minExpiration, now time.Time) bool {
	if !r.fits(child) {
		return false
	}
	return child.Expires.IsZero() || (!child.Expires.Before(minExpiration) && now.Before(child.Expires))
}

// fits reports whether child is a token this request may be answered with,
// whatever its lifetime: of the right type, for the right user, for the
// right service, with scopes a subset of those requested (internal) or of
// the parent's current scopes (notebook).
//
// An internal child whose service is unknown ("") fits any service:
// Gafaelfawr before 12.0 kept an internal token's service only in the
// repository, and the cache key or the repository lookup that led to the
// child has already matched it. A known service must be the requested one.
func (r *ChildRequest) fits(child *TokenData) bool {
	if child.Type != r.Type || child.Username != r.Parent.Username {
		return false
	}
	if child.Service != r.Service && (r.Type != TokenTypeInternal || child.Service != "") {
		return false
	}
	return ScopesSubset(child.Scopes, r.Scopes)
}

// NewChild builds the token data of a new child with the given token,
// created at now.
func (r *ChildRequest) NewChild(token Token, now time.Time, tokenLifetime time.Duration) TokenData {
	created, expires := ChildTimes(r.Parent, now, tokenLifetime)
	p := r.Parent.Clone()
	return TokenData{
		Token:    token,
		Username: p.Username,
		Type:     r.Type,
		Service:  r.Service,
		Scopes:   CanonicalScopes(r.Scopes),
		Created:  created,
		Expires:  expires,
		Name:     p.Name,
		Email:    p.Email,
		UID:      p.UID,
		GID:      p.GID,
		Groups:   p.Groups,
	}
}

// Record is what the repository stores for a new child: its data, its
// parent link and the change-history entry attributed to the parent's user.
func (r *ChildRequest) Record(child TokenData) TokenRecord {
	return TokenRecord{
		Data:      child,
		ParentKey: r.Parent.Token.Key,
		Actor:     r.Parent.Username,
		IPAddress: r.IPAddress,
	}
}
