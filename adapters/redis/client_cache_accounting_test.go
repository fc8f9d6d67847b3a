package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/tokencache/tokencache/adapters/redis"
	"github.com/tokencache/tokencache/domain"
)

// The byte bound counts what a kept token takes in the heap, its scopes'
// and groups' slices included: for a token of thousands of short scopes,
// the JSON the estimate starts from is a small part of that.
func TestClientCacheCountsEveryScopeAndGroup(t *testing.T) {
	t.Parallel()
	e := newCachedEnv(t, redis.ClientCacheConfig{MaxEntries: 10, MaxBytes: 1 << 30})
	data := e.minimalData(t)
	const letters = "abcdefghijklmnopqrstuvwxyz"
	var scopes []string
	for i := range 2000 {
		scopes = append(scopes, fmt.Sprintf("%c%c%d", letters[i%26], letters[i/26%26], i/676))
	}
	data.Scopes = domain.CanonicalScopes(scopes)
	for i := range 1000 {
		data.Groups = append(data.Groups, domain.Group{Name: fmt.Sprintf("g%d", i), ID: int64(i)})
	}
	e.put(t, data)
	e.mustHit(t, data)

	// The least the decoded token holds: its slices' elements, and the
	// characters of their strings.
	least := len(data.Scopes)*int(unsafe.Sizeof("")) + len(data.Groups)*int(unsafe.Sizeof(domain.Group{}))
	for _, s := range data.Scopes {
		least += len(s)
	}
	for _, g := range data.Groups {
		least += len(g.Name)
	}
	if st := e.cache.Stats(); st.Bytes < int64(least) {
		t.Errorf("the cache counts %d bytes for a token whose scopes and groups alone take at least %d", st.Bytes, least)
	}
}

// A token stored without a creation time reads, as in Gafaelfawr, as
// created at the time of each read: the cache must not hand out the time
// of its first read for as long as it keeps the token.
func TestClientCacheKeepsNoCreationTimeOfItsOwn(t *testing.T) {
	t.Parallel()
	e := newCachedEnv(t, redis.ClientCacheConfig{})
	ctx := context.Background()
	tok := e.newToken(t)
	expires := e.clock.Now().Add(time.Hour).Unix()
	plain := fmt.Sprintf(`{"username": "someuser", "token_type": "internal", "service": "portal", "scopes": ["read:all"], "expires": %d, "token": {"key": %q, "secret": %q}}`,
		expires, tok.Key, tok.Secret)
	e.set(t, tok.Key, seal(t, e.secret, []byte(plain)))
	for range 20 {
		if _, err := e.store.Get(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(40 * time.Minute)
	got, err := e.store.Get(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.clock.Now(); !got.Created.Equal(want) {
		t.Errorf("created %v, want the time of the read, %v (stats %+v)", got.Created, want, e.cache.Stats())
	}
}
