package domain

import "time"

// MinimumLifetime is the shortest lifetime the service keeps in reserve: a
// caller's minimum lifetime may be at most the token lifetime minus this.
const MinimumLifetime = 5 * time.Minute

// ChildTimes returns the creation time and expiry a child of parent created
// now would get: created is now in whole seconds (UTC), and expires is
// created plus tokenLifetime, capped at the parent's expiry.
func ChildTimes(parent TokenData, now time.Time, tokenLifetime time.Duration) (created, expires time.Time) {
	return childTimes(parent.Expires, now, tokenLifetime)
}

// childTimes is ChildTimes for a parent expiring at parentExpires. The
// rules on a request's hot path take the times they need rather than
// whole tokens, each a few hundred bytes to copy.
func childTimes(parentExpires, now time.Time, tokenLifetime time.Duration) (created, expires time.Time) {
	created = now.UTC().Truncate(time.Second)
	expires = created.Add(tokenLifetime)
	if capped := capAt(parentExpires); !capped.IsZero() && capped.Before(expires) {
		expires = capped
	}
	return created, expires
}

// childCap is the latest expiry any child of parent can have, or zero if
// the parent never expires: the parent's expiry rounded down to whole
// seconds, because stores keep whole seconds and rounding down keeps the
// child within its parent's life. Every rule that compares against the
// parent's expiry uses this, so that a parent expiring at a fraction of a
// second cannot demand a child that no child can match.
func childCap(parent TokenData) time.Time {
	return capAt(parent.Expires)
}

// capAt is childCap for a parent expiring at parentExpires.
func capAt(parentExpires time.Time) time.Time {
	if parentExpires.IsZero() {
		return time.Time{}
	}
	return parentExpires.UTC().Truncate(time.Second)
}

// lifeFrom is the time from which the rules measure a token's life left
// against a minimum: now rounded down to whole seconds, as Gafaelfawr
// measures it (datetime.now().replace(microsecond=0)), so that no child it
// would reuse is replaced, and no parent it accepts refused, in the last
// fraction of a second before its cut-off. Whether a token has expired at
// all is still judged at now itself.
func lifeFrom(now time.Time) time.Time {
	return now.UTC().Truncate(time.Second)
}

// MinimumExpiration is the earliest expiry an existing child may have to be
// reused from the repository: now (in whole seconds, see lifeFrom) plus
// minimumLifetime, or plus half the token lifetime when minimumLifetime is
// zero, capped at the latest expiry a child of parent can have
// (ChildTimes).
func MinimumExpiration(parent TokenData, now time.Time, minimumLifetime, tokenLifetime time.Duration) time.Time {
	want := minimumLifetime
	if want == 0 {
		want = tokenLifetime / 2
	}
	min := lifeFrom(now).Add(want)
	if capped := childCap(parent); !capped.IsZero() && capped.Before(min) {
		min = capped
	}
	return min
}

// HasEnoughLife reports whether a cached child may still be handed out at
// now. A child that never expires always may; one that has expired never
// may. Otherwise it needs, measured in whole seconds (see lifeFrom), at
// least minimumLifetime left when that is set, else at least half of its own
// lifetime left, unless its expiry is already bestExpiry, the latest any new
// child could get, in which case replacing it would gain nothing. (A child
// found in the repository needs only to meet the lookup's cut-off,
// MinimumExpiration.)
func HasEnoughLife(child TokenData, now time.Time, minimumLifetime time.Duration, bestExpiry time.Time) bool {
	return hasEnoughLife(child.Created, child.Expires, now, minimumLifetime, bestExpiry)
}

// hasEnoughLife is HasEnoughLife for a child created and expiring at the
// given times.
func hasEnoughLife(created, expires, now time.Time, minimumLifetime time.Duration, bestExpiry time.Time) bool {
	if expires.IsZero() {
		return true
	}
	if !now.Before(expires) {
		return false
	}
	remaining := expires.Sub(lifeFrom(now))
	if minimumLifetime > 0 {
		return remaining >= minimumLifetime
	}
	if !expires.Before(bestExpiry) {
		return true
	}
	return remaining >= expires.Sub(created)/2
}
