package memory

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// childRef is a child in its parent's list, which is kept in order of
// creation so that counting recent children is a binary search.
type childRef struct {
	key     string
	created time.Time
}

// lookupKey is what FindChild matches a child on, besides its expiry: the
// parent and type and, for internal tokens, the service and scopes. The
// scopes are in their stored form, as PostgreSQL compares them.
type lookupKey struct {
	parent  string
	typ     domain.TokenType
	service string
	scopes  string
}

func newLookupKey(parent string, typ domain.TokenType, service string, scopes []string) lookupKey {
	k := lookupKey{parent: parent, typ: typ}
	if typ == domain.TokenTypeInternal {
		k.service, k.scopes = service, domain.JoinScopes(scopes)
	}
	return k
}

func queryKey(q domain.ChildQuery) lookupKey {
	return newLookupKey(q.ParentKey, q.Type, q.Service, q.Scopes)
}

func recordKey(rec domain.TokenRecord) lookupKey {
	return newLookupKey(rec.ParentKey, rec.Data.Type, rec.Data.Service, rec.Data.Scopes)
}

// link indexes data as a child of parent. The caller holds r.mu.
func (r *Repository) link(parent string, data domain.TokenData) {
	refs := r.children[parent]
	// After any child created at the same time: the list is nearly always
	// appended to.
	i := sort.Search(len(refs), func(i int) bool { return refs[i].created.After(data.Created) })
	r.children[parent] = slices.Insert(refs, i, childRef{key: data.Token.Key, created: data.Created})
	k := newLookupKey(parent, data.Type, data.Service, data.Scopes)
	r.lookups[k] = append(r.lookups[k], data.Token.Key)
}

// findChild runs q over the committed rows plus pending, the additions of
// an uncommitted unit of work. It reads only the children that match q's
// parent, type, service and scopes, never all of the parent's children.
func (r *Repository) findChild(q domain.ChildQuery, pending []domain.TokenRecord) (string, error) {
	want := queryKey(q)
	r.mu.RLock()
	defer r.mu.RUnlock()
	var best domain.TokenData
	found := false
	consider := func(data domain.TokenData) {
		if data.Expires.IsZero() || data.Expires.Before(q.MinExpiration) || slices.Contains(q.Exclude, data.Token.Key) {
			return
		}
		if !found || data.Expires.After(best.Expires) ||
			data.Expires.Equal(best.Expires) && (data.Created.After(best.Created) ||
				data.Created.Equal(best.Created) && data.Token.Key < best.Token.Key) {
			best, found = data, true
		}
	}
	for _, key := range r.lookups[want] {
		consider(r.tokens[key])
	}
	for _, rec := range pending {
		if recordKey(rec) == want {
			consider(rec.Data)
		}
	}
	if !found {
		return "", fmt.Errorf("child of %s: %w", q.ParentKey, ports.ErrNotFound)
	}
	return best.Token.Key, nil
}

// countChildren counts parent's children created in w, committed or among
// pending, and finds the w.Max-th newest of them.
func (r *Repository) countChildren(parent string, w domain.ChildWindow, pending []domain.TokenRecord) domain.ChildCount {
	var count domain.ChildCount
	var newest []time.Time // the w.Max newest committed ones, and the pending
	for _, rec := range pending {
		if rec.ParentKey == parent && !rec.Data.Created.Before(w.Since) {
			count.N++
			newest = append(newest, rec.Data.Created)
		}
	}
	r.mu.RLock()
	refs := r.children[parent]
	i := sort.Search(len(refs), func(i int) bool { return !refs[i].created.Before(w.Since) })
	count.N += len(refs) - i
	for _, ref := range refs[max(i, len(refs)-max(w.Max, 0)):] {
		newest = append(newest, ref.created)
	}
	r.mu.RUnlock()
	if w.Max > 0 && len(newest) >= w.Max {
		slices.SortFunc(newest, func(a, b time.Time) int { return b.Compare(a) })
		count.LastToLeave = newest[w.Max-1]
	}
	return count
}
