package postgres

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"

	"github.com/tokencache/tokencache/domain"
)

// migrationLock names the advisory lock Migrate holds. No cache key can
// equal it, since cache keys start with "notebook\x00" or "internal\x00".
const migrationLock = "tokencache schema migration"

// lockID maps a lock name to the bigint key of a PostgreSQL advisory lock:
// the first 8 bytes of its SHA-256, big-endian, as an int64. Every process
// derives the same key from the same name with no coordination. SHA-256
// rather than a cheaper hash so that nobody who chooses a service name can
// make two cache keys share a lock on purpose; an accidental collision
// (odds 2^-64 per pair) only makes two requests take turns.
func lockID(name domain.CacheKey) int64 {
	sum := sha256.Sum256([]byte(name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// lockStatement takes the transaction-scoped advisory lock id. id is
// written into the statement, which then has no arguments, so that the
// driver sends it in one message with the transaction's BEGIN (see
// begin.go).
func lockStatement(id int64) string {
	return "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(id, 10) + ")"
}
