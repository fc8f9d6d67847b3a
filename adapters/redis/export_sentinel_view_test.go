package redis

import goredis "github.com/redis/go-redis/v9"

// SentinelView is, for a Sentinel client NewClient made, the newest
// configuration epoch its polls have taken and the master masterConns
// knows: what its dialer sends go-redis's dials to.
func SentinelView(client goredis.UniversalClient) (epoch int64, master string) {
	f := client.(*failoverClient)
	f.conns.mu.Lock()
	defer f.conns.mu.Unlock()
	return f.conns.epochs.epoch, f.conns.master
}
