package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestReplicaAcksFlagAndItsEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    int
		wantErr string // "" for none
	}{
		{"neither", nil, "", 0, ""},
		{"flag", []string{"--redis-replica-acks", "1"}, "", 1, ""},
		{"flag 0 wins over the environment", []string{"--redis-replica-acks=0"}, "2", 0, ""},
		{"environment", nil, "1", 1, ""},
		{"environment negative", nil, "-1", 0, envRedisReplicaAcks + ": the value is not a whole number, 0 or more"},
		{"environment not a number", nil, "one", 0, envRedisReplicaAcks + ": the value is not a whole number, 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c countFlag
			fs := newTestFlagSet()
			fs.Var(&c, "redis-replica-acks", "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := c.fillFromEnv(func(string) string { return tt.env }, envRedisReplicaAcks)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("fillFromEnv: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("fillFromEnv = %v, want %q", err, tt.wantErr)
			case c.value != tt.want:
				t.Errorf("value %d, want %d", c.value, tt.want)
			}
		})
	}
}

func TestReplicaAcksFlagRefusesNegative(t *testing.T) {
	var c countFlag
	fs := newTestFlagSet()
	fs.Var(&c, "redis-replica-acks", "")
	if err := fs.Parse([]string{"--redis-replica-acks=-1"}); err == nil {
		t.Error("--redis-replica-acks=-1 was accepted")
	}
}

// The daemon given TOKENCACHE_REDIS_REPLICA_ACKS=1 on a Redis without
// replicas answers a request for a new child with 503, and records no child.
func TestDaemonReplicaAcksWithoutReplica(t *testing.T) {
	s := newRealStores(t)
	if n, err := s.rdb.Info(context.Background(), "replication").Result(); err != nil || !strings.Contains(n, "connected_slaves:0") {
		t.Skipf("the integration Redis has replicas, or did not say (%v)", err)
	}
	d := startServe(t, append(s.env, envRedisReplicaAcks+"=1"), "--listen", "127.0.0.1:0")
	now := time.Now().UTC().Truncate(time.Second)
	parent, _ := s.gafaelfawrParent(t, "read:all", now.Add(-time.Hour), now.Add(24*time.Hour))
	if resp := getDelegate(t, d, parent, "notebook=true"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", resp.StatusCode)
	}
	if n := s.children(t, parent, "notebook", ""); n != 0 {
		t.Errorf("%d notebook children were recorded, want none", n)
	}
}
