package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tokencache/tokencache/domain"
	"github.com/tokencache/tokencache/ports"
)

// The lookups of tx.go with a count of the parent's children since a time
// ($7 and $5), in one statement so that a creation asks both in one round
// trip, and the creation time of the newest of them but one less than the
// budget ($8 and $6, the OFFSET). The lookup and that time are
// uncorrelated subqueries, which PostgreSQL runs once, and only when their
// answer is needed: the time only when the count reaches the budget, which
// spares a creation the second walk of the children nearly always. Each
// gives NULL when nothing matches. The count goes by the token rows' creation times,
// whoever made them (tokencache or Gafaelfawr), and walks the parent's
// subtoken rows through the subtoken_by_parent index, as the lookup does.
// An aggregate without GROUP BY always gives one row.
var (
	lookUpInternalChild = preparedFirst(`
SELECT (
    SELECT s.child::text COLLATE "C"
    FROM subtoken s JOIN token t ON s.child = t.token
    WHERE s.parent = $1 AND t.token_type = $2 AND t.expires >= $3
      AND t.service = $4 AND t.scopes = $5 AND NOT t.token = ANY($6)
    ORDER BY t.expires DESC, t.created DESC, t.token
    LIMIT 1
) AS key, count(*) AS n, CASE WHEN count(*) > $8 THEN (
    SELECT t.created
    FROM subtoken s JOIN token t ON s.child = t.token
    WHERE s.parent = $1 AND t.created >= $7
    ORDER BY t.created DESC
    LIMIT 1 OFFSET $8
) END AS last_to_leave
FROM subtoken s JOIN token t ON s.child = t.token
WHERE s.parent = $1 AND t.created >= $7`)
	lookUpChild = preparedFirst(`
SELECT (
    SELECT s.child::text COLLATE "C"
    FROM subtoken s JOIN token t ON s.child = t.token
    WHERE s.parent = $1 AND t.token_type = $2 AND t.expires >= $3
      AND NOT t.token = ANY($4)
    ORDER BY t.expires DESC, t.created DESC, t.token
    LIMIT 1
) AS key, count(*) AS n, CASE WHEN count(*) > $6 THEN (
    SELECT t.created
    FROM subtoken s JOIN token t ON s.child = t.token
    WHERE s.parent = $1 AND t.created >= $5
    ORDER BY t.created DESC
    LIMIT 1 OFFSET $6
) END AS last_to_leave
FROM subtoken s JOIN token t ON s.child = t.token
WHERE s.parent = $1 AND t.created >= $5`)
)

// lookupRow is the answer to lookUpInternalChild and lookUpChild.
type lookupRow struct {
	Key         sql.NullString `db:"key"`
	N           int            `db:"n"`
	LastToLeave sql.NullTime   `db:"last_to_leave"`
}

// LookUpChild runs FindChild's lookup and counts the children of
// q.ParentKey created in w, including those this transaction added, in one
// statement.
func (t *repoTx) LookUpChild(ctx context.Context, q domain.ChildQuery, w domain.ChildWindow) (ports.ChildLookup, error) {
	// The bounds are in UTC, as dbTime explains, and not truncated: an
	// expiry bound rounded down would accept a child with slightly less
	// life than asked for, and a window rounded down would count a child
	// that is just outside it.
	minExpires, since := q.MinExpiration.UTC(), w.Since.UTC()
	offset := int64(max(w.Max-1, 0)) // a Max of 0 has no Max-th newest: its answer is dropped
	exclude := excludeArray(q.Exclude)
	var row lookupRow
	var err error
	lock := t.withLock()
	if q.Type == domain.TokenTypeInternal {
		err = t.tx.GetContext(ctx, &row, lookUpInternalChild,
			q.ParentKey, string(q.Type), minExpires, q.Service, domain.JoinScopes(q.Scopes), exclude, since, offset)
	} else {
		err = t.tx.GetContext(ctx, &row, lookUpChild, q.ParentKey, string(q.Type), minExpires, exclude, since, offset)
	}
	if lockErr := t.lockFailed(ctx, lock, err); lockErr != nil {
		return ports.ChildLookup{}, lockErr
	}
	if err != nil {
		return ports.ChildLookup{}, fmt.Errorf("looking up %s child of %s%s: %w", q.Type, q.ParentKey, lock, withContext(ctx, err))
	}
	found := ports.ChildLookup{Key: row.Key.String, Recent: domain.ChildCount{N: row.N}}
	if row.LastToLeave.Valid && w.Max > 0 {
		// The column has no time zone; its wall clock is UTC.
		e := row.LastToLeave.Time
		found.Recent.LastToLeave = time.Date(e.Year(), e.Month(), e.Day(), e.Hour(), e.Minute(), e.Second(), e.Nanosecond(), time.UTC)
	}
	return found, nil
}
