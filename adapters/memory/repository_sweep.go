package memory

import (
	"slices"
	"time"
)

// dropExpired deletes the rows of tokens expired at now, with their
// history, and takes them out of the indexes. The caller holds r.mu.
func (r *Repository) dropExpired(now time.Time) {
	dropped := false
	for key, data := range r.tokens {
		if expired(data, now) {
			delete(r.tokens, key)
			delete(r.history, key)
			dropped = true
		}
	}
	if !dropped {
		return
	}
	for parent, refs := range r.children {
		refs = slices.DeleteFunc(refs, func(c childRef) bool { return !r.has(c.key) })
		if len(refs) == 0 {
			delete(r.children, parent)
		} else {
			r.children[parent] = refs
		}
	}
	for k, keys := range r.lookups {
		keys = slices.DeleteFunc(keys, func(key string) bool { return !r.has(key) })
		if len(keys) == 0 {
			delete(r.lookups, k)
		} else {
			r.lookups[k] = keys
		}
	}
}

// has reports whether a row with that key is held. The caller holds r.mu.
func (r *Repository) has(key string) bool {
	_, ok := r.tokens[key]
	return ok
}
