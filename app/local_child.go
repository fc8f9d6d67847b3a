package app

import (
	"context"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// LocalNotebookToken returns the notebook token GetNotebookToken would
// return, and true, when it can tell without I/O: the child is cached and
// the token store holds it in process memory (a Redis client cache), where
// it passes the reuse rules, counting a cache hit. Otherwise it returns
// false, counting nothing, and GetNotebookToken gives the answer, errors
// included; the token store's own count of the reads it served from
// memory does include a child read there and found wanting.
func (s *TokenCacheService) LocalNotebookToken(ctx context.Context, parent domain.TokenData, ipAddress string, minimumLifetime time.Duration) (domain.Token, bool) {
	req := domain.NewNotebookRequest(parent, ipAddress, minimumLifetime)
	return s.localChild(ctx, &req)
}

// LocalInternalToken is LocalNotebookToken for GetInternalToken.
func (s *TokenCacheService) LocalInternalToken(ctx context.Context, parent domain.TokenData, service string, scopes []string, ipAddress string, minimumLifetime time.Duration) (domain.Token, bool) {
	req := domain.NewInternalRequest(parent, service, scopes, ipAddress, minimumLifetime)
	return s.localChild(ctx, &req)
}

// localChild is getChild's first step, the cached child read again and
// checked, when the token store can read it without I/O.
func (s *TokenCacheService) localChild(ctx context.Context, req *domain.ChildRequest) (domain.Token, bool) {
	local, ok := s.store.(ports.LocalTokenReader)
	if !ok || req.Validate(s.clock.Now(), s.lifetime) != nil {
		return domain.Token{}, false
	}
	token, ok := s.cached(req.Type, req.CacheKey(), domain.Token{})
	if !ok {
		return domain.Token{}, false
	}
	data, ok := local.GetLocal(ctx, token)
	if !ok || !s.reusable(req, &data) {
		return domain.Token{}, false
	}
	return token, true
}
