//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package postgres

// closedByPeer cannot tell on this platform; see peer_closed_unix.go.
func (c *watchedConn) closedByPeer() bool { return false }
