//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package postgres

import (
	"errors"
	"syscall"
)

// closedByPeer reports whether the server has closed c, or sent it
// something, while it sat idle in the pool: an idle session's server sends
// nothing unless it is ending the session (a FATAL error, then EOF), as
// after pg_terminate_backend, idle_session_timeout or a restart. It peeks
// without blocking and without consuming anything.
func (c *watchedConn) closedByPeer() bool {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EWOULDBLOCK) || n > 0
		return true // never wait for data
	})
	return closed || err != nil
}
