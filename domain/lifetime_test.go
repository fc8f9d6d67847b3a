package domain_test

import (
	"testing"
	"time"

	"github.com/tokencache/tokencache/domain"
)

func TestChildTimes(t *testing.T) {
	pacific := time.FixedZone("UTC-8", -8*60*60)
	tests := []struct {
		name          string
		now           time.Time
		parentExpires time.Time // zero: never expires
		wantCreated   time.Time
		wantExpires   time.Time
	}{
		{
			name:          "whole second",
			now:           testNow,
			parentExpires: testNow.Add(2 * testLifetime),
			wantCreated:   testNow,
			wantExpires:   testNow.Add(testLifetime),
		},
		{
			name:          "fractions of a second are dropped",
			now:           testNow.Add(999 * time.Millisecond),
			parentExpires: testNow.Add(2 * testLifetime),
			wantCreated:   testNow,
			wantExpires:   testNow.Add(testLifetime),
		},
		{
			name:          "another time zone",
			now:           testNow.Add(500 * time.Millisecond).In(pacific),
			parentExpires: testNow.Add(2 * testLifetime),
			wantCreated:   testNow,
			wantExpires:   testNow.Add(testLifetime),
		},
		{
			name:        "parent never expires",
			now:         testNow.Add(time.Nanosecond),
			wantCreated: testNow,
			wantExpires: testNow.Add(testLifetime),
		},
		{
			name:          "capped at the parent's expiry",
			now:           testNow,
			parentExpires: testNow.Add(time.Hour),
			wantCreated:   testNow,
			wantExpires:   testNow.Add(time.Hour),
		},
		{
			name:          "capped at a parent's expiry given in another time zone",
			now:           testNow,
			parentExpires: testNow.Add(time.Hour).In(pacific),
			wantCreated:   testNow,
			wantExpires:   testNow.Add(time.Hour),
		},
		{
			name:          "parent expires exactly with the lifetime",
			now:           testNow,
			parentExpires: testNow.Add(testLifetime),
			wantCreated:   testNow,
			wantExpires:   testNow.Add(testLifetime),
		},
		{
			name:          "parent expires a second after the lifetime",
			now:           testNow,
			parentExpires: testNow.Add(testLifetime + time.Second),
			wantCreated:   testNow,
			wantExpires:   testNow.Add(testLifetime),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := domain.TokenData{Expires: tt.parentExpires}
			created, expires := domain.ChildTimes(parent, tt.now, testLifetime)
			assertUTC(t, "created", created, tt.wantCreated)
			assertUTC(t, "expires", expires, tt.wantExpires)
		})
	}
}

func TestMinimumExpiration(t *testing.T) {
	tests := []struct {
		name            string
		parentExpires   time.Time // zero: never expires
		minimumLifetime time.Duration
		want            time.Time
	}{
		{
			name:          "unset: half the token lifetime",
			parentExpires: testNow.Add(2 * testLifetime),
			want:          testNow.Add(testLifetime / 2),
		},
		{
			name:            "set",
			parentExpires:   testNow.Add(2 * testLifetime),
			minimumLifetime: time.Hour,
			want:            testNow.Add(time.Hour),
		},
		{
			name:            "set longer than half the token lifetime",
			parentExpires:   testNow.Add(2 * testLifetime),
			minimumLifetime: testLifetime - domain.MinimumLifetime,
			want:            testNow.Add(testLifetime - domain.MinimumLifetime),
		},
		{
			name: "unset, parent never expires",
			want: testNow.Add(testLifetime / 2),
		},
		{
			name:            "set, parent never expires",
			minimumLifetime: time.Hour,
			want:            testNow.Add(time.Hour),
		},
		{
			name:          "unset, capped at the parent's expiry",
			parentExpires: testNow.Add(time.Hour),
			want:          testNow.Add(time.Hour),
		},
		{
			name:            "set, capped at the parent's expiry",
			parentExpires:   testNow.Add(time.Hour),
			minimumLifetime: 2 * time.Hour,
			want:            testNow.Add(time.Hour),
		},
		{
			name:            "set, parent expires exactly then",
			parentExpires:   testNow.Add(time.Hour),
			minimumLifetime: time.Hour,
			want:            testNow.Add(time.Hour),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := domain.TokenData{Expires: tt.parentExpires}
			got := domain.MinimumExpiration(parent, testNow, tt.minimumLifetime, testLifetime)
			if !got.Equal(tt.want) {
				t.Errorf("MinimumExpiration = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHasEnoughLife(t *testing.T) {
	// A child created at testNow with the full lifetime, so half of its
	// life is left at halfLife.
	created := testNow
	expires := testNow.Add(testLifetime)
	halfLife := testNow.Add(testLifetime / 2)
	// A best expiry no child here reaches, so that only the lifetime rules
	// decide, unless a case says otherwise.
	unreachable := expires.Add(time.Hour)

	tests := []struct {
		name            string
		expires         time.Time // zero: never expires
		now             time.Time
		minimumLifetime time.Duration
		bestExpiry      time.Time
		want            bool
	}{
		{name: "never expires", now: testNow, bestExpiry: unreachable, want: true},
		{name: "never expires, long minimum", now: testNow, minimumLifetime: 100 * testLifetime,
			bestExpiry: unreachable, want: true},
		{name: "just created", expires: expires, now: testNow, bestExpiry: unreachable, want: true},
		{name: "exactly half left", expires: expires, now: halfLife, bestExpiry: unreachable, want: true},
		{name: "a second under half left", expires: expires, now: halfLife.Add(time.Second),
			bestExpiry: unreachable, want: false},
		// Life left is measured in whole seconds, as Gafaelfawr measures it.
		{name: "a nanosecond under half left", expires: expires, now: halfLife.Add(time.Nanosecond),
			bestExpiry: unreachable, want: true},
		{name: "a second and a nanosecond under half left", expires: expires, now: halfLife.Add(time.Second + time.Nanosecond),
			bestExpiry: unreachable, want: false},
		{name: "a nanosecond before it expires", expires: expires, now: expires.Add(-time.Nanosecond),
			bestExpiry: expires, want: true},
		{name: "expires now", expires: expires, now: expires, bestExpiry: unreachable, want: false},
		{name: "expired", expires: expires, now: expires.Add(time.Second), bestExpiry: unreachable, want: false},
		{name: "expires now, at the best expiry", expires: expires, now: expires, bestExpiry: expires, want: false},
		{name: "expired, at the best expiry", expires: expires, now: expires.Add(time.Second),
			bestExpiry: expires, want: false},

		// With a minimum lifetime, half-life no longer matters.
		{name: "minimum met past half-life", expires: expires, now: expires.Add(-time.Hour),
			minimumLifetime: time.Hour, bestExpiry: unreachable, want: true},
		{name: "minimum missed by a second", expires: expires, now: expires.Add(-time.Hour + time.Second),
			minimumLifetime: time.Hour, bestExpiry: unreachable, want: false},
		{name: "minimum missed before half-life", expires: expires, now: testNow,
			minimumLifetime: testLifetime + time.Second, bestExpiry: unreachable, want: false},

		// Rule 3: a child that already has the best expiry is kept past
		// half-life, but not when a minimum lifetime says otherwise.
		{name: "at the best expiry past half-life", expires: expires, now: expires.Add(-time.Minute),
			bestExpiry: expires, want: true},
		{name: "after the best expiry past half-life", expires: expires, now: expires.Add(-time.Minute),
			bestExpiry: expires.Add(-time.Second), want: true},
		{name: "a second before the best expiry past half-life", expires: expires, now: expires.Add(-time.Minute),
			bestExpiry: expires.Add(time.Second), want: false},
		{name: "at the best expiry, minimum met", expires: expires, now: expires.Add(-time.Hour),
			minimumLifetime: time.Hour, bestExpiry: expires, want: true},
		{name: "at the best expiry, minimum missed", expires: expires, now: expires.Add(-time.Minute),
			minimumLifetime: time.Hour, bestExpiry: expires, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			child := domain.TokenData{Created: created, Expires: tt.expires}
			got := domain.HasEnoughLife(child, tt.now, tt.minimumLifetime, tt.bestExpiry)
			if got != tt.want {
				t.Errorf("HasEnoughLife at %v (expires %v, minimum %v, best %v) = %v, want %v",
					tt.now, tt.expires, tt.minimumLifetime, tt.bestExpiry, got, tt.want)
			}
		})
	}
}

// assertUTC fails the test unless got is the instant want, in UTC, in
// whole seconds.
func assertUTC(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
	if got.Nanosecond() != 0 {
		t.Errorf("%s = %v has a fraction of a second", what, got)
	}
}

// Gafaelfawr measures a token's life left from now rounded down to whole
// seconds (datetime.now().replace(microsecond=0)): in the cache's reuse
// rule, in the repository lookup's cut-off and in the ingress's check of
// the parent. So does every rule here, or a child Gafaelfawr would still
// reuse would be replaced, or a parent it accepts refused, in the last
// fraction of a second before its cut-off.
func TestLifeLeftIsMeasuredInWholeSecondsAsGafaelfawrMeasuresIt(t *testing.T) {
	const minimum = domain.MinimumLifetime
	// A child and a parent with exactly the minimum left at testNow,
	// asked about 0.6 s later: still the minimum, in whole seconds.
	later := testNow.Add(600 * time.Millisecond)
	expires := testNow.Add(minimum)

	if !domain.HasEnoughLife(domain.TokenData{Created: expires.Add(-testLifetime), Expires: expires},
		later, minimum, expires.Add(time.Hour)) {
		t.Error("HasEnoughLife = false, want true: Gafaelfawr still reuses the cached child")
	}
	parent := domain.TokenData{Expires: testNow.Add(2 * testLifetime)}
	if got, want := domain.MinimumExpiration(parent, later, time.Hour, testLifetime), testNow.Add(time.Hour); !got.Equal(want) {
		t.Errorf("MinimumExpiration = %v, want %v, the cut-off Gafaelfawr looks up children with", got, want)
	}

	p := testParent(t)
	p.Expires = expires
	req := domain.NewNotebookRequest(p, "192.0.2.1", minimum)
	if err := req.Validate(later, testLifetime); err != nil {
		t.Errorf("Validate = %v, want nil: Gafaelfawr accepts the parent", err)
	}
}
