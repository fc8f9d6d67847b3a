package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// countChildrenSince counts a parent's children by their token rows'
// creation time, whoever made them (tokencache or Gafaelfawr). It walks
// the parent's subtoken rows through the subtoken_by_parent index.
var countChildrenSince = prepared(`
SELECT count(*) AS n, min(t.created) AS earliest
FROM subtoken s JOIN token t ON s.child = t.token
WHERE s.parent = $1 AND t.created >= $2`)

// childCountRow is the answer to countChildrenSince.
type childCountRow struct {
	N        int          `db:"n"`
	Earliest sql.NullTime `db:"earliest"`
}

// CountChildrenSince counts the children of parentKey created at or after
// since, including those this transaction added, and says when the
// earliest of them was created.
func (t *repoTx) CountChildrenSince(ctx context.Context, parentKey string, since time.Time) (domain.ChildCount, error) {
	// In UTC, as dbTime explains, and not truncated: a bound rounded down
	// would count a child that is just outside the window.
	var row childCountRow
	if err := t.tx.GetContext(ctx, &row, countChildrenSince, parentKey, since.UTC()); err != nil {
		return domain.ChildCount{}, fmt.Errorf("counting children of %s: %w", parentKey, withContext(ctx, err))
	}
	count := domain.ChildCount{N: row.N}
	if row.Earliest.Valid {
		// The column has no time zone; its wall clock is UTC.
		e := row.Earliest.Time
		count.Earliest = time.Date(e.Year(), e.Month(), e.Day(), e.Hour(), e.Minute(), e.Second(), e.Nanosecond(), time.UTC)
	}
	return count, nil
}
