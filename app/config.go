package app

import (
	"fmt"
	"time"

	"github.com/tokencache/tokencache/domain"
)

// Defaults applied by Config for fields left at zero.
const (
	DefaultTokenLifetime = 30 * 24 * time.Hour
	DefaultCacheSize     = 5000

	// DefaultMaxChildrenPerParent and DefaultChildrenWindow bound the
	// children one parent may create: 100 an hour is far more than a
	// user's notebook and services need, and far less than a client naming
	// a new service on every request would make.
	DefaultMaxChildrenPerParent = 100
	DefaultChildrenWindow       = time.Hour

	// DefaultDatabaseMaxConnections caps each replica's PostgreSQL pool.
	DefaultDatabaseMaxConnections = 20

	// RedisReplicaAckTimeout bounds how long a new child's write waits for
	// RedisReplicaAcks replicas, less if the creation's deadline is
	// nearer: a replica that is attached acknowledges in about a round
	// trip.
	RedisReplicaAckTimeout = time.Second

	// DefaultCreationTimeout bounds the store work of one request for a
	// child not cached: as long as the daemon's default request timeout,
	// and far longer than a lookup or a creation takes on stores that
	// answer (milliseconds).
	DefaultCreationTimeout = 10 * time.Second
)

// Config configures the service and its adapters.
type Config struct {
	// RedisURL, DatabaseURL and SessionSecret locate the real stores and
	// the Fernet key that encrypts tokens in Redis. The in-memory
	// composition ignores them.
	RedisURL, DatabaseURL, SessionSecret string

	// ClientCache serves tokens read from Redis before out of process
	// memory, kept current by Redis's invalidations (CLIENT TRACKING; see
	// redis.ClientCache): a hit costs no round trip, a token another
	// client changes or revokes is no longer served within milliseconds,
	// and while the invalidation link is down every read goes to Redis.
	// It needs Redis 6 or later and a single server or a Sentinel
	// failover client, not a cluster. Off, every read goes to Redis.
	ClientCache bool

	// RedisReplicaAcks is how many replicas of the Redis master must hold
	// a new child before it is handed out (Redis's WAIT, sent with the
	// write in one round trip, waiting at most RedisReplicaAckTimeout). Redis
	// replicates asynchronously: without it, a failover can lose children
	// already handed out. With it, creations fail as store failures while
	// fewer replicas acknowledge. Set it to the number of replicas the
	// sentinels may promote: a failover to a replica that did not
	// acknowledge loses the child. 0, the default, waits for none; Redis
	// Cluster refuses anything else.
	RedisReplicaAcks int

	// TokenLifetime is the longest lifetime of an interactive token, and so
	// of any child; 0 means DefaultTokenLifetime.
	TokenLifetime time.Duration

	// CacheSize is the number of entries in each of the two child caches;
	// 0 means DefaultCacheSize.
	CacheSize int

	// MaxChildrenPerParent is how many children one parent may create
	// within ChildrenWindow, counted in the repository and so across
	// replicas; past it, creation fails with domain.ErrTooManyChildren
	// while reuse goes on. 0 means DefaultMaxChildrenPerParent; a negative
	// value means no bound.
	MaxChildrenPerParent int

	// ChildrenWindow is how far back MaxChildrenPerParent counts; 0 means
	// DefaultChildrenWindow.
	ChildrenWindow time.Duration

	// DatabaseMaxConnections caps the PostgreSQL connections this process
	// keeps open; beyond it, requests wait for a free connection within
	// their deadline. 0 means DefaultDatabaseMaxConnections. Size it so
	// that replicas × DatabaseMaxConnections stays below the server's
	// max_connections less what Gafaelfawr and other clients need.
	DatabaseMaxConnections int

	// CreationTimeout bounds the work a request does holding its child's
	// lock once the cache could not serve it: the repository lookup and
	// any creation, which run detached from the caller. A caller whose
	// context ends gets its error at once while that work goes on, up to
	// CreationTimeout, and caches its child for the next request, so that
	// a client that leaves does not cost the connections it was using or
	// the child it asked for. Work that nobody waits for any more lets the
	// work callers wait for go first, for at most 20 ms in all. It bounds
	// each read of a cached child from the token store too, whatever the
	// caller's deadline. 0 means DefaultCreationTimeout.
	CreationTimeout time.Duration
}

// Check reports the first field of c out of its range, as
// NewTokenCacheService and the injectors would, without building anything:
// a command checks its flags before it dials the stores. The error never
// quotes a secret.
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with zero fields set to their defaults, or an
// error if a field is out of range. The error never quotes a secret.
func (c Config) withDefaults() (Config, error) {
	if c.TokenLifetime == 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.MaxChildrenPerParent == 0 {
		c.MaxChildrenPerParent = DefaultMaxChildrenPerParent
	}
	if c.ChildrenWindow == 0 {
		c.ChildrenWindow = DefaultChildrenWindow
	}
	if c.DatabaseMaxConnections == 0 {
		c.DatabaseMaxConnections = DefaultDatabaseMaxConnections
	}
	if c.CreationTimeout == 0 {
		c.CreationTimeout = DefaultCreationTimeout
	}
	// As Gafaelfawr's token_lifetime: a shorter one would leave a child
	// less than the minimum lifetime that every delegation asks for.
	if limit := 2 * domain.MinimumLifetime; c.TokenLifetime < limit {
		return c, fmt.Errorf("token lifetime %v must be at least %v", c.TokenLifetime, limit)
	}
	if c.TokenLifetime%time.Second != 0 {
		return c, fmt.Errorf("token lifetime %v must be whole seconds", c.TokenLifetime)
	}
	if c.CacheSize < 0 {
		return c, fmt.Errorf("cache size %d must not be negative", c.CacheSize)
	}
	if c.ChildrenWindow < 0 {
		return c, fmt.Errorf("children window %v must not be negative", c.ChildrenWindow)
	}
	if c.DatabaseMaxConnections < 0 {
		return c, fmt.Errorf("database max connections %d must not be negative", c.DatabaseMaxConnections)
	}
	if c.RedisReplicaAcks < 0 {
		return c, fmt.Errorf("redis replica acks %d must not be negative", c.RedisReplicaAcks)
	}
	if c.CreationTimeout < 0 {
		return c, fmt.Errorf("creation timeout %v must not be negative", c.CreationTimeout)
	}
	return c, nil
}
