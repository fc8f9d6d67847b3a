package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// cleanupTimeout bounds deleting a half-made session after a failure.
const cleanupTimeout = 10 * time.Second

// sessionRequest describes a parent session token to mint.
type sessionRequest struct {
	username string
	scopes   []string
	lifetime time.Duration
}

// validate checks the request before anything is written.
func (r sessionRequest) validate() error {
	if r.username == "" {
		return errors.New("a username is required")
	}
	// Every delegation refuses a parent with any other name.
	if !domain.VisibleName(r.username) || utf8.RuneCountInString(r.username) > domain.MaxNameLength {
		return fmt.Errorf("the username is longer than %d characters or is not visible (control, format or invisible characters, or a space at either end)", domain.MaxNameLength)
	}
	for i, s := range r.scopes {
		if !domain.ValidScope(s) {
			// Not quoted: the value of a flag may be a secret.
			return fmt.Errorf("scope %d of %d is not of the form [a-zA-Z0-9:._-]+", i+1, len(r.scopes))
		}
	}
	if r.lifetime < time.Second || r.lifetime%time.Second != 0 {
		return fmt.Errorf("lifetime %v must be a whole number of seconds, at least one", r.lifetime)
	}
	return nil
}

// mintSession creates a session token in both stores, as Gafaelfawr does
// at login: the token store first, then, in one unit of work, its row and a
// "create" history entry by the user itself from no known address. If the
// row cannot be recorded the stored token is deleted again, so that
// nothing half-made is left behind.
func mintSession(ctx context.Context, store ports.TokenStore, repo ports.TokenRepository, now time.Time, req sessionRequest) (domain.Token, error) {
	if err := req.validate(); err != nil {
		return domain.Token{}, err
	}
	token, err := domain.NewToken(rand.Reader)
	if err != nil {
		return domain.Token{}, err
	}
	created := now.UTC().Truncate(time.Second)
	data := domain.TokenData{
		Token:    token,
		Username: req.username,
		Type:     domain.TokenTypeSession,
		Scopes:   domain.CanonicalScopes(req.scopes),
		Created:  created,
		Expires:  created.Add(req.lifetime),
	}
	if err := store.Store(ctx, data); err != nil {
		// The write may have been done all the same (its answer lost, or
		// its deadline past): the token is new, so deleting it is safe.
		err = fmt.Errorf("storing session token %s: %w", token.Key, err)
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if derr := store.Delete(dctx, token.Key); derr != nil {
			err = errors.Join(err, fmt.Errorf("deleting session token %s again: %w", token.Key, derr))
		}
		return domain.Token{}, err
	}
	if err := record(ctx, repo, domain.TokenRecord{Data: data, Actor: req.username}); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if errors.Is(err, errCommitUnknown) {
			// A commit whose answer was lost may have taken effect: then
			// the token is whole, and deleting it would leave its row.
			switch recorded, xerr := recordedOnceSettled(dctx, repo, token.Key); {
			case xerr != nil:
				return domain.Token{}, errors.Join(err, fmt.Errorf(
					"session token %s is kept in the token store, since whether its row was recorded is unknown: %w", token.Key, xerr))
			case recorded:
				return token, nil
			}
		}
		if derr := store.Delete(dctx, token.Key); derr != nil {
			err = errors.Join(err, fmt.Errorf("deleting session token %s again: %w", token.Key, derr))
		}
		return domain.Token{}, err
	}
	return token, nil
}

// errCommitUnknown marks a failed commit, which may have taken effect.
var errCommitUnknown = errors.New("the commit's outcome is unknown")

// record adds rec in a unit of work of its own. Its lock is named after the
// new token, which no one else can be waiting for.
func record(ctx context.Context, repo ports.TokenRepository, rec domain.TokenRecord) error {
	key := rec.Data.Token.Key
	tx, err := repo.Begin(ctx, sessionLock(key))
	if err != nil {
		return fmt.Errorf("recording session token %s: %w", key, err)
	}
	// Rolling back after Commit is a no-op; this releases the lock on
	// every failure.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := tx.AddToken(ctx, rec); err != nil {
		return fmt.Errorf("recording session token %s: %w", key, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("recording session token %s: %w (%w)", key, err, errCommitUnknown)
	}
	return nil
}

// sessionLock is the lock of the unit of work that records the session
// token key.
func sessionLock(key string) domain.CacheKey { return domain.CacheKey("session\x00" + key) }

// recordedOnceSettled reports whether the session token key was recorded,
// asked once the unit of work that recorded it has ended: a commit whose
// answer was lost may still be under way (waiting for a flush or a
// synchronous standby), its row not yet visible, and its unit of work
// holds the lock until it ends. It fails if the lock is not free by ctx's
// end: whether the row was recorded is then unknown.
func recordedOnceSettled(ctx context.Context, repo ports.TokenRepository, key string) (bool, error) {
	tx, err := repo.Begin(ctx, sessionLock(key))
	if err != nil {
		return false, fmt.Errorf("waiting for the unit of work that recorded it: %w", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		return false, err
	}
	return repo.TokenExists(ctx, key)
}
