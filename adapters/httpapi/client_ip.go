package httpapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address recorded in the change history of a new child.
//
// It is the connection's peer unless the peer is within one of the
// trusted proxy networks and the request has X-Forwarded-For. Then, as
// safir's XForwardedMiddleware (which Gafaelfawr runs) does, the header's
// addresses are walked from the right, past those within the trusted
// networks, and the first one that is not is the client; if all are
// trusted, the leftmost is. Several X-Forwarded-For headers are read as
// one list, in the order received, as safir reads them.
//
// Where this differs from safir 15.2.1:
//
//   - Safir believes the header from any peer. Here a peer outside the
//     trusted networks (any peer when there are none) is itself the
//     client: anyone can send the header.
//   - Safir skips an entry that is not an IP address (a port, brackets, a
//     zone, garbage) and walks on into what the client wrote, so a proxy
//     that appends "address:port" would hand the choice to the client.
//     Here such an entry ends the walk, and the client is the last address
//     known to be real: the trusted entry to its right, or the peer. The
//     history never gets text that does not parse, and a client cannot
//     make its request fail.
func clientIP(r *http.Request, trusted []netip.Prefix) (string, error) {
	addrPort, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "", fmt.Errorf("client address %q is not an IP address and port", r.RemoteAddr)
	}
	// A zone ("fe80::1%eth0") is the server's view of a link, not part of
	// the client's address, and the stores cannot hold it.
	peer := addrPort.Addr().Unmap().WithZone("")
	if !within(peer, trusted) {
		return peer.String(), nil
	}
	var entries []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		entries = append(entries, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(entries) - 1; i >= 0; i-- {
		entry := strings.TrimSpace(entries[i])
		if entry == "" {
			continue
		}
		addr, err := netip.ParseAddr(entry)
		if err != nil || addr.Zone() != "" {
			break
		}
		client = addr.Unmap()
		if !within(client, trusted) {
			break
		}
	}
	return client.String(), nil
}

// within reports whether addr is in one of the networks.
func within(addr netip.Addr, networks []netip.Prefix) bool {
	for _, n := range networks {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}
