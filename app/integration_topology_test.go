package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokencache/tokencache/app"
	"github.com/tokencache/tokencache/internal/integration"
)

// The service's integration tests on a throwaway Redis Cluster (three
// masters) and a throwaway Sentinel group, each reached through
// Config.RedisURL as a deployment would: Gafaelfawr's reference
// behaviours, a creation, hit and revocation, and a herd. Each topology is
// started once, and its tests share it in parallel, each with a session
// secret and users of its own.

// topologyBehaviours are run on each topology: the reference behaviours and
// two of the service's own.
var topologyBehaviours = append(referenceBehaviours[:len(referenceBehaviours):len(referenceBehaviours)],
	envBehaviour{"CreateHitRevoke", integrationCreateHitRevoke},
	envBehaviour{"Herd", integrationHerd},
)

func TestIntegrationTopologies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		start func(*testing.T) string // returns the topology's URL
		// clientCache lists the settings of Config.ClientCache to run the
		// behaviours with.
		clientCache []bool
	}{
		{"cluster", func(t *testing.T) string { return integration.StartRedisCluster(t).URL() }, []bool{false}},
		{"sentinel", func(t *testing.T) string { return integration.StartRedisSentinel(t).URL() }, []bool{false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			started := time.Now()
			url := tc.start(t)
			t.Logf("%s started in %v", tc.name, time.Since(started).Round(time.Millisecond))
			for _, cache := range tc.clientCache {
				t.Run(clientCacheName(cache), func(t *testing.T) {
					t.Parallel()
					for _, b := range topologyBehaviours {
						t.Run(b.name, func(t *testing.T) {
							t.Parallel()
							b.run(t, newTopologyEnv(t, url, cache))
						})
					}
				})
			}
			if tc.name == "cluster" {
				t.Run("ClientCacheRefused", func(t *testing.T) {
					t.Parallel()
					checkClusterRefusesClientCache(t, url)
				})
			}
		})
	}
}

func clientCacheName(on bool) string {
	if on {
		return "client cache on"
	}
	return "client cache off"
}

// newTopologyEnv is newRealEnv on the Redis topology at redisURL, with
// Config.ClientCache set to clientCache.
func newTopologyEnv(t testing.TB, redisURL string, clientCache bool) *realEnv {
	t.Helper()
	return newRealEnvFrom(t, app.Config{
		RedisURL:      redisURL,
		DatabaseURL:   integration.DatabaseURL(t),
		SessionSecret: newSessionSecret(t),
		TokenLifetime: 24 * time.Hour,
		CacheSize:     100,
		ClientCache:   clientCache,
	})
}

// checkClusterRefusesClientCache checks that the service does not start
// with the client cache on a Redis Cluster, and says why, naming it.
func checkClusterRefusesClientCache(t *testing.T, clusterURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := app.Config{
		RedisURL:      clusterURL,
		DatabaseURL:   integration.DatabaseURL(t),
		SessionSecret: newSessionSecret(t),
		ClientCache:   true,
	}
	svc, cleanup, err := app.InitializeTokenCacheService(ctx, cfg)
	if err == nil {
		cleanup()
		t.Fatal("the service started with the client cache on a Redis Cluster")
	}
	if svc != nil || cleanup != nil {
		t.Error("a failed composition returned a service or cleanup")
	}
	if !strings.Contains(err.Error(), "Redis Cluster is not supported") {
		t.Errorf("error %q does not say that a Redis Cluster is not supported", err)
	}
	if strings.Contains(err.Error(), cfg.SessionSecret) {
		t.Errorf("error %q reveals the session secret", err)
	}
}
