package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// demoSession is the parent token serve mints on the in-memory stores, so
// that the first run has something to try.
var demoSession = sessionRequest{
	username: "demo",
	scopes:   []string{"read:all", "user:token"},
	lifetime: time.Hour,
}

// printDemo mints the demo parent token and prints it, with curl commands
// that use it, on standard output. Printing a token is the point here:
// it lives only in this process's memory, for an hour.
func (c *cli) printDemo(ctx context.Context, comp *components, base string) error {
	now := comp.Clock.Now()
	token, err := mintSession(ctx, comp.Store, comp.Repository, now, demoSession)
	if err != nil {
		return fmt.Errorf("minting the demo token: %w", err)
	}
	bearer := `-H "Authorization: Bearer ` + token.String() + `"`
	fmt.Fprintf(c.stdout, `tokencache serve: listening on %s with in-memory stores (nothing is kept after exit)

Demo parent token of user %q with scopes %s, valid for %v:

  %s

Ask for a notebook token:

  curl -i %s "%s/auth/delegate?notebook=true"

or for an internal token for a service:

  curl -i %s "%s/auth/delegate?delegate_to=portal&delegate_scope=read:all"

`, base, demoSession.username, strings.Join(demoSession.scopes, " "), demoSession.lifetime,
		token.String(), bearer, base, bearer, base)
	return nil
}

// baseURL is the URL at which a local client reaches addr: an unspecified
// address such as 0.0.0.0 is reached on loopback.
func baseURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	ip := tcp.IP
	if ip.IsUnspecified() {
		ip = net.IPv6loopback
		if ip4 := tcp.IP.To4(); ip4 != nil {
			ip = net.IPv4(127, 0, 0, 1)
		}
	}
	return "http://" + net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}
