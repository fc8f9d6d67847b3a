package main

import (
	"errors"
	"fmt"
	"strconv"
)

// envRedisReplicaAcks stands in for --redis-replica-acks.
const envRedisReplicaAcks = "TOKENCACHE_REDIS_REPLICA_ACKS"

// replicaAcksEnv documents it for -h.
var replicaAcksEnv = [][2]string{{envRedisReplicaAcks, "as --redis-replica-acks: a whole number, 0 or more"}}

// countFlag is a flag of a whole number, 0 or more, that remembers
// whether it was given, so that an environment variable can stand in for
// it only when it was not.
type countFlag struct {
	value int
	given bool
}

func (c *countFlag) String() string { return strconv.Itoa(c.value) }

func (c *countFlag) Set(v string) error {
	n, err := parseCount(v)
	if err != nil {
		return err
	}
	c.value, c.given = n, true
	return nil
}

// fillFromEnv takes the value of the environment variable env when the
// flag was not given.
func (c *countFlag) fillFromEnv(getenv func(string) string, env string) error {
	v := getenv(env)
	if c.given || v == "" {
		return nil
	}
	n, err := parseCount(v)
	if err != nil {
		return usageError(fmt.Sprintf("%s: %v", env, err))
	}
	c.value = n
	return nil
}

func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New("the value is not a whole number, 0 or more (not repeated here, since it could be a secret)")
	}
	return n, nil
}
