package main

import (
	"errors"
	"strconv"
)

// envClientCache stands in for --client-cache.
const envClientCache = "TOKENCACHE_CLIENT_CACHE"

// cacheEnv documents it for -h.
var cacheEnv = [][2]string{{envClientCache, "as --client-cache: true or false"}}

// boolFlag is a boolean flag that remembers whether it was given, so that
// an environment variable can stand in for it only when it was not.
type boolFlag struct {
	value, given bool
}

func (b *boolFlag) String() string { return strconv.FormatBool(b.value) }

func (b *boolFlag) Set(v string) error {
	value, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("the value is not true or false")
	}
	b.value, b.given = value, true
	return nil
}

// IsBoolFlag lets the flag be given as --client-cache alone.
func (b *boolFlag) IsBoolFlag() bool { return true }

// fillFromEnv takes the value of the environment variable env when the
// flag was not given.
func (b *boolFlag) fillFromEnv(getenv func(string) string, env string) error {
	v := getenv(env)
	if b.given || v == "" {
		return nil
	}
	value, err := strconv.ParseBool(v)
	if err != nil {
		return usageError(env + ": the value is not true or false (not repeated here, since it could be a secret)")
	}
	b.value = value
	return nil
}
