package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokencache/tokencache/internal/integration"
)

// A master with more replicas than the acknowledgements asked for can be
// failed over to a replica that never acknowledged a write, which is then
// lost: the store reports how many replicas go unasked for, for a warning
// at start.
func TestReplicasBeyondTheAcknowledgements(t *testing.T) {
	t.Parallel()
	master := integration.StartRedisServer(t, false)
	master.AddReplicas(t, 2)
	client := newClientAt(t, master.URL())
	ctx := context.Background()
	for _, tc := range []struct{ acks, want int }{{1, 1}, {2, 0}, {3, 0}} {
		e := newAckEnv(t, client, tc.acks, time.Second)
		got, err := e.store.UnacknowledgedReplicas(ctx)
		if err != nil || got != tc.want {
			t.Errorf("with %d acknowledgements: %d, %v; want %d replicas unasked for", tc.acks, got, err, tc.want)
		}
	}
	if got, err := newEnv(t).store.UnacknowledgedReplicas(ctx); err != nil || got != 0 {
		t.Errorf("without acknowledgements: %d, %v; want 0 (nothing asked, nothing to warn of)", got, err)
	}
}
