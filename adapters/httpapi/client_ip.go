package httpapi

import (
	"fmt"
	"net/http"
	"net/netip"
)

// clientIP is the address recorded in the change history of a new child:
// the peer of the connection. Headers such as X-Forwarded-For are ignored,
// since anyone can send them; behind nginx the address is therefore
// nginx's own.
func clientIP(r *http.Request) (string, error) {
	addrPort, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "", fmt.Errorf("client address %q is not an IP address and port", r.RemoteAddr)
	}
	return addrPort.Addr().Unmap().String(), nil
}
