package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrNotReplicated is wrapped by Store's error when fewer replicas than
// WithReplicaAcks asks for acknowledged the write in time. The write may
// be on the master all the same: the caller must delete it if it is not
// to be used.
var ErrNotReplicated = errors.New("write not acknowledged by enough replicas")

// ackMargin is kept between the end of WAIT's timeout and the context's
// deadline, so that WAIT's own reply arrives before the deadline ends the
// read: Redis ends a blocked WAIT on its next timer tick, up to 100 ms
// after the timeout at its default hz of 10, and the reply has to travel.
const ackMargin = 150 * time.Millisecond

// replicaAcks is what WithReplicaAcks asks of each write: n replicas to
// acknowledge it, waiting at most timeout. n is 0 when off.
type replicaAcks struct {
	n       int
	timeout time.Duration
}

// WithReplicaAcks makes Store wait until n replicas of the master hold a
// token's entry, with Redis's WAIT sent in the same round trip as the
// write, and fail with ErrNotReplicated if fewer do within timeout (less
// if the context's deadline is nearer). Redis replicates asynchronously:
// without it, a failover can lose an entry that Store reported written
// and its caller handed out. It costs one WAIT per write, which returns as
// soon as the replicas acknowledge; while fewer than n replicas are
// attached every write fails after timeout. n of 0 leaves writes as they
// are. WAIT is asked of the one server a client writes to, so a Redis
// Cluster or Ring client is refused.
func WithReplicaAcks(n int, timeout time.Duration) StoreOption {
	return func(s *TokenStore) error {
		switch {
		case n < 0:
			return fmt.Errorf("replica acknowledgements %d must not be negative", n)
		case n == 0:
			return nil
		case timeout <= 0:
			return fmt.Errorf("replica acknowledgement timeout %v must be positive", timeout)
		}
		switch s.client.(type) {
		case *goredis.ClusterClient, *goredis.Ring:
			// WAIT names no key: a cluster pipeline would send it to any
			// node, not the one that took the write.
			return errors.New("replica acknowledgements (WAIT) are not supported on a redis cluster or ring: " +
				"use a single server or sentinel")
		}
		s.acks = replicaAcks{n: n, timeout: timeout}
		return nil
	}
}

// set writes value under key with ttl (none if 0), with replica
// acknowledgements if they are on (see acknowledged).
func (s *TokenStore) set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if s.acks.n == 0 {
		return s.client.Set(ctx, key, value, ttl).Err()
	}
	return s.acknowledged(ctx, func(pipe goredis.Pipeliner) { pipe.Set(ctx, key, value, ttl) })
}

// del deletes key, with replica acknowledgements if they are on: a delete
// that a failover loses brings the entry back (see acknowledged).
func (s *TokenStore) del(ctx context.Context, key string) error {
	if s.acks.n == 0 {
		return s.client.Del(ctx, key).Err()
	}
	return s.acknowledged(ctx, func(pipe goredis.Pipeliner) { pipe.Del(ctx, key) })
}

// acknowledged sends the write that queue adds to a pipeline, and WAITs
// for the replica acknowledgements in the same round trip; fewer than
// asked for fail with ErrNotReplicated, though the write was done on the
// master.
func (s *TokenStore) acknowledged(ctx context.Context, queue func(goredis.Pipeliner)) error {
	timeout := ackTimeout(ctx, time.Now(), s.acks.timeout)
	pipe := s.client.Pipeline()
	queue(pipe)
	// go-redis's Pipeliner has no Wait method.
	wait := goredis.NewIntCmd(ctx, "wait", s.acks.n, timeout.Milliseconds())
	_ = pipe.Process(ctx, wait)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if acked := wait.Val(); acked < int64(s.acks.n) {
		return fmt.Errorf("%w: %d of %d acknowledged it within %v", ErrNotReplicated, acked, s.acks.n, timeout)
	}
	return nil
}

// ackTimeout is how long WAIT may block for a write made at now under ctx:
// configured, or less so that it ends ackMargin before ctx's deadline, and
// never under a millisecond, since WAIT's 0 would block forever.
func ackTimeout(ctx context.Context, now time.Time, configured time.Duration) time.Duration {
	timeout := configured
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, deadline.Sub(now)-ackMargin)
	}
	return max(timeout.Truncate(time.Millisecond), time.Millisecond)
}

// UnacknowledgedReplicas is how many connected replicas of the master each
// write does not wait for (see WithReplicaAcks): a failover that promotes
// one of them loses the writes it did not hold yet, acknowledged or not.
// It is 0 when no acknowledgement is asked for.
func (s *TokenStore) UnacknowledgedReplicas(ctx context.Context) (int, error) {
	if s.acks.n == 0 {
		return 0, nil
	}
	info, err := s.client.Info(ctx, "replication").Result()
	if err != nil {
		return 0, fmt.Errorf("counting the redis master's replicas: %w", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, errors.New("counting the redis master's replicas: connected_slaves is not a number")
			}
			return max(n-s.acks.n, 0), nil
		}
	}
	return 0, errors.New("counting the redis master's replicas: INFO replication has no connected_slaves")
}
