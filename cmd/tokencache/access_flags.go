package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"
)

// Environment variables that stand in for the access flags, as comma
// lists.
const (
	envTrustedProxies  = "TOKENCACHE_TRUSTED_PROXIES"
	envAllowedServices = "TOKENCACHE_ALLOWED_SERVICES"
)

// accessEnv documents the environment variables for -h.
var accessEnv = [][2]string{
	{envTrustedProxies, "as --trusted-proxy, comma-separated"},
	{envAllowedServices, "as --allow-service, comma-separated"},
}

// accessFlags bound who may be believed and what may be asked for: the
// proxies whose X-Forwarded-For names the client, and the services that
// delegate_to may name.
type accessFlags struct {
	trustedProxies  prefixList
	allowedServices commaList
}

func (a *accessFlags) register(fs *flag.FlagSet) {
	fs.Var(&a.trustedProxies, "trusted-proxy",
		"`CIDR` of a proxy (such as the ingress) whose X-Forwarded-For names the client; repeat for several, none trusted by default")
	fs.Var(&a.allowedServices, "allow-service",
		"`name` of a service that delegate_to may name; repeat for several; none given: any service")
}

// fillFromEnv takes each list not given on fs's command line, even as an
// empty value, from its environment variable.
func (a *accessFlags) fillFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := givenFlags(fs)
	if !given["trusted-proxy"] {
		if err := setFromEnv(&a.trustedProxies, getenv(envTrustedProxies)); err != nil {
			return usageError(fmt.Sprintf("%s: %v", envTrustedProxies, err))
		}
	}
	if given["allow-service"] && len(a.allowedServices) == 0 {
		// Which would allow any service, whatever the environment says.
		return usageError("--allow-service names no service: name at least one, or leave it out (then " +
			envAllowedServices + ", or any service when that is unset)")
	}
	if !given["allow-service"] {
		value := getenv(envAllowedServices)
		if err := setFromEnv(&a.allowedServices, value); err != nil {
			return usageError(fmt.Sprintf("%s: %v", envAllowedServices, err))
		}
		if strings.TrimSpace(value) != "" && len(a.allowedServices) == 0 {
			// Commas only, as "$A,$B" with both unset gives: any service.
			return usageError(envAllowedServices + " names no service, only commas: name at least one, or unset it (then any service)")
		}
	}
	return nil
}

// setFromEnv sets v from an environment variable's value, unless it is
// empty.
func setFromEnv(v flag.Value, value string) error {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	return v.Set(value)
}

// eachItem calls set with each entry of a comma list, empty entries
// skipped, and stops at the first error.
func eachItem(list string, set func(string) error) error {
	for item := range strings.SplitSeq(list, ",") {
		if item = strings.TrimSpace(item); item != "" {
			if err := set(item); err != nil {
				return err
			}
		}
	}
	return nil
}

// prefixList is a repeatable flag of networks, each value a comma list. A
// bare address is taken as the network of that one address.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	parts := make([]string, len(*p))
	for i, prefix := range *p {
		parts[i] = prefix.String()
	}
	return strings.Join(parts, ",")
}

func (p *prefixList) Set(v string) error {
	return eachItem(v, func(item string) error {
		prefix, err := netip.ParsePrefix(item)
		if err != nil {
			addr, addrErr := netip.ParseAddr(item)
			if addrErr != nil || addr.Zone() != "" {
				return errors.New("an item is neither a CIDR network nor an IP address (not repeated here, since it could be a secret)")
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		*p = append(*p, prefix.Masked())
		return nil
	})
}
