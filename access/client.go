package access

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientKey is what a client is counted by: its IPv4 address, or its IPv6
// /64, since one host commonly has a whole /64 to pick addresses from.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil:
		return ip
	case a.Unmap().Is4():
		return a.Unmap().String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// ClientIP is the address a request came from: the peer, or, when the
// peer is one of -trusted-proxies, the last address it added to
// X-Forwarded-For. Nothing else a client can set is believed.
func (p Proxies) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if p.FromTrustedProxy(r) {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			if last := strings.TrimSpace(hops[len(hops)-1]); last != "" {
				return last
			}
		}
	}
	return host
}

// Proxies are the -trusted-proxies: the peers whose forwarding headers
// (X-Forwarded-For, X-Forwarded-Proto) are believed.
type Proxies []netip.Prefix

// FromTrustedProxy reports a request whose peer is one of the proxies.
func (p Proxies) FromTrustedProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, prefix := range p {
		if prefix.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// clientIPKey carries the request's client address to the login gate
// through the pool, which knows nothing of HTTP.
type clientIPKey struct{}

// WithClientIP is r with its client address (ClientIP) in its context, for
// the login gate: every front calls it before a request reaches the pool.
func (p Proxies) WithClientIP(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), clientIPKey{}, p.ClientIP(r)))
}

// IsHTTPS reports whether the browser reached the bridge over TLS,
// believing a proxy's X-Forwarded-Proto only from a trusted proxy.
func (p Proxies) IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return p.FromTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// clientIP is the address WithClientIP put in ctx, "" if none.
func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
