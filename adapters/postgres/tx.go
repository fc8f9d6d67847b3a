package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// repoTx is a unit of work begun by TokenRepository.Begin or
// BeginDeferred. After an AddToken error PostgreSQL has aborted the
// transaction: it can then only be rolled back, and Commit fails having
// added nothing.
type repoTx struct {
	tx     *sqlx.Tx
	end    context.CancelFunc // ends the transaction's own context
	logger *slog.Logger

	lock        int64 // the lock of a deferred Begin
	lockPending bool  // whether it goes with the next statement
}

// withLock returns what a failed statement's error says of the deferred
// lock that went with it, if one did, and counts the lock as sent.
func (t *repoTx) withLock() string {
	if !t.lockPending {
		return ""
	}
	t.lockPending = false
	return " with repository lock " + strconv.FormatInt(t.lock, 10)
}

// lockFailed returns err as the failure to take the deferred lock that
// went with the statement (lock, from withLock), if it failed before the
// statement began (see beginError), or nil.
func (t *repoTx) lockFailed(ctx context.Context, lock string, err error) error {
	var begin *beginError
	if lock == "" || !errors.As(err, &begin) {
		return nil
	}
	return fmt.Errorf("waiting for repository lock %d: %w: %w", t.lock, ports.ErrLockNotTaken, withContext(ctx, err))
}

var _ ports.RepositoryTx = (*repoTx)(nil)

// Gafaelfawr's lookups for a reusable child (get_internal_token_key and
// get_notebook_token_key), made deterministic: of several matches, the one
// expiring last, then the one created last, then the smallest key. Children
// capped at their parent's expiry share it; of those, the newest is the one
// that replaced any older one revoked from Redis while its rows stayed
// behind, so taking it keeps replicas from each replacing the revoked one
// anew. The key is cast to TEXT COLLATE "C", as it is in Gafaelfawr's
// newer schema, so that the statements' result keeps its type when
// Gafaelfawr migrates an older schema from VARCHAR, whose subtoken.child
// has the default collation: PostgreSQL refuses to run a prepared
// statement whose result type changed (see prepared.go).
var (
	findInternalChild = preparedFirst(`
SELECT s.child::text COLLATE "C"
FROM subtoken s JOIN token t ON s.child = t.token
WHERE s.parent = $1 AND t.token_type = $2 AND t.expires >= $3
  AND t.service = $4 AND t.scopes = $5 AND NOT t.token = ANY($6)
ORDER BY t.expires DESC, t.created DESC, t.token
LIMIT 1`)
	findChild = preparedFirst(`
SELECT s.child::text COLLATE "C"
FROM subtoken s JOIN token t ON s.child = t.token
WHERE s.parent = $1 AND t.token_type = $2 AND t.expires >= $3
  AND NOT t.token = ANY($4)
ORDER BY t.expires DESC, t.created DESC, t.token
LIMIT 1`)
)

// Gafaelfawr's three rows of a new token, in one statement so that they
// cost one round trip: the token row, the parent link (addChild only) and
// the "create" history entry, whose columns repeat what the token row
// returns. The statement is atomic, and PostgreSQL checks the link's
// foreign keys at its end, when the token row is there: in which order it
// inserts the rows is not visible. The arguments are those of
// creationRow.args.
var (
	addChild = prepared(`
WITH t AS (
INSERT INTO token
    (token, username, token_type, token_name, scopes, service, created, last_used, expires)
VALUES ($1, $2, $3, NULL, $4, $5, $6, NULL, $7)
RETURNING token, username, token_type, scopes, service, created, expires
), s AS (
INSERT INTO subtoken (child, parent) SELECT token, $10 FROM t
)
INSERT INTO token_change_history
    (token, username, token_type, token_name, parent, scopes, service, expires,
     actor, action, ip_address, event_time)
SELECT token, username, token_type, NULL, $10, scopes, service, expires, $8, 'create', $9, created
FROM t`)
	addToken = prepared(`
WITH t AS (
INSERT INTO token
    (token, username, token_type, token_name, scopes, service, created, last_used, expires)
VALUES ($1, $2, $3, NULL, $4, $5, $6, NULL, $7)
RETURNING token, username, token_type, scopes, service, created, expires
)
INSERT INTO token_change_history
    (token, username, token_type, token_name, parent, scopes, service, expires,
     actor, action, ip_address, event_time)
SELECT token, username, token_type, NULL, NULL, scopes, service, expires, $8, 'create', $9, created
FROM t`)
)

// FindChild returns the key of the child of q.ParentKey that matches q,
// is not in q.Exclude, and comes first in the order of the lookups above,
// or ports.ErrNotFound.
func (t *repoTx) FindChild(ctx context.Context, q domain.ChildQuery) (string, error) {
	// The bound is not truncated to whole seconds: rounding it down would
	// accept a child with slightly less life than asked for.
	minExpires := q.MinExpiration.UTC()
	var key string
	var err error
	exclude := excludeArray(q.Exclude)
	lock := t.withLock()
	if q.Type == domain.TokenTypeInternal {
		err = t.tx.GetContext(ctx, &key, findInternalChild,
			q.ParentKey, string(q.Type), minExpires, q.Service, domain.JoinScopes(q.Scopes), exclude)
	} else {
		err = t.tx.GetContext(ctx, &key, findChild, q.ParentKey, string(q.Type), minExpires, exclude)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", ports.ErrNotFound
	}
	if lockErr := t.lockFailed(ctx, lock, err); lockErr != nil {
		return "", lockErr
	}
	if err != nil {
		return "", fmt.Errorf("finding %s child of %s%s: %w", q.Type, q.ParentKey, lock, withContext(ctx, err))
	}
	return key, nil
}

// excludeArray is keys as the lookups' array of keys to pass over.
func excludeArray(keys []string) pq.StringArray {
	if keys == nil {
		return pq.StringArray{} // NULL would exclude every row
	}
	return pq.StringArray(keys)
}

// AddToken adds rec's token row, its subtoken link when rec.ParentKey is
// set, and its "create" history entry, as Gafaelfawr does, in one
// statement. An unknown parent yields an error wrapping
// domain.ErrInvalidToken and domain.ErrParentNotRecorded.
func (t *repoTx) AddToken(ctx context.Context, rec domain.TokenRecord) error {
	key := rec.Data.Token.Key
	row := newCreationRow(rec)
	lock := t.withLock()
	query, args := addToken, row.args()
	if rec.ParentKey != "" {
		query, args = addChild, append(args, rec.ParentKey)
	}
	if _, err := t.tx.ExecContext(ctx, query, args...); err != nil {
		if lockErr := t.lockFailed(ctx, lock, err); lockErr != nil {
			return lockErr
		}
		// The parent link's foreign keys are the only ones: the child's
		// is to the row the statement itself inserts.
		if rec.ParentKey != "" && pq.As(err, pqerror.ForeignKeyViolation) != nil {
			return fmt.Errorf("adding token %s: %w: %w (%s)",
				key, domain.ErrInvalidToken, domain.ErrParentNotRecorded, rec.ParentKey)
		}
		return fmt.Errorf("adding token %s%s: %w", key, lock, withContext(ctx, err))
	}
	t.logger.DebugContext(ctx, "added token to repository",
		"token_key", key, "token_type", row.TokenType, "service", row.Service.String,
		"scopes", row.Scopes, "expires", row.Expires.Time)
	return nil
}

// Commit makes the additions durable and releases the lock. It ends when
// ctx or the context the transaction began with does; its answer may then
// be lost although the commit took effect.
func (t *repoTx) Commit(ctx context.Context) error {
	defer t.endWith(ctx)()
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// Rollback discards the unit of work and releases the lock, within ctx
// (the connection is closed if ctx ends first, which ends the transaction
// on the server too). It is a no-op after Commit, or after database/sql
// rolled back because the transaction's context ended.
func (t *repoTx) Rollback(ctx context.Context) error {
	defer t.endWith(ctx)()
	if err := rollback(t.tx); err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	return nil
}

// endWith has the transaction's context end when ctx does, which
// interrupts a COMMIT or ROLLBACK under way; the returned func ends it
// anyway, the transaction being over.
func (t *repoTx) endWith(ctx context.Context) func() {
	stop := context.AfterFunc(ctx, t.end)
	return func() {
		stop()
		t.end()
	}
}

// rollback rolls tx back, treating a transaction that already ended as
// success.
func rollback(tx *sqlx.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}
