// Package netpolicy decides which FTP hosts the bridge may dial.
//
// The check runs on the resolved IP address at dial time, for the control
// connection and for every data connection, so neither a DNS answer that
// changes between check and use (rebinding) nor a PASV reply can steer the
// bridge to an address the operator did not allow.
package netpolicy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrRefused is wrapped by every error that reports an address the policy refuses.
var ErrRefused = errors.New("refused by the network policy")

// rule allows one host name, address or prefix, on one port or any (port 0).
type rule struct {
	name   string // lower-case host name, or ""
	prefix netip.Prefix
	port   int
}

// Policy is the operator's -allow-hosts list. Public addresses are
// allowed on FTP's ports; the list adds non-public hosts (on any port
// unless the entry names one) and the ports its entries name.
type Policy struct {
	rules []rule
	// ports are where a public address may be dialled: the whole
	// Internet is anyone's to reach through the bridge, but only as FTP,
	// so that it is no port scanner and no relay to other services.
	ports []portRange
}

// portRange is lo-hi, both included.
type portRange struct{ lo, hi int }

// FTPPorts are the ports public addresses are dialled on by default:
// FTP (and explicit TLS on it) and implicit FTPS.
var FTPPorts = []int{21, 990}

// Parse reads a comma-separated list of host names, IPs or CIDRs, each
// optionally followed by :port (IPv6 with a port as [::1]:21). A port an
// entry names is opened on public addresses too, as a port the operator
// knows FTP servers to use.
func Parse(spec string) (*Policy, error) {
	p := &Policy{}
	for _, port := range FTPPorts {
		p.ports = append(p.ports, portRange{port, port})
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		r, err := parseRule(item)
		if err != nil {
			return nil, fmt.Errorf("allow-hosts entry %q: %w", item, err)
		}
		p.rules = append(p.rules, r)
		if r.port != 0 {
			p.ports = append(p.ports, portRange{r.port, r.port})
		}
	}
	return p, nil
}

// OpenPorts reads -allow-ports, a comma list of ports and ranges
// ("2121,10000-10100"), and lets public addresses be dialled on them too.
func (p *Policy) OpenPorts(spec string) error {
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		los, his, isRange := strings.Cut(item, "-")
		if !isRange {
			his = los
		}
		lo, err1 := strconv.Atoi(strings.TrimSpace(los))
		hi, err2 := strconv.Atoi(strings.TrimSpace(his))
		if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
			return fmt.Errorf("allow-ports entry %q: not a port (1-65535) or a range such as 10000-10100", item)
		}
		p.ports = append(p.ports, portRange{lo, hi})
	}
	return nil
}

func (p *Policy) publicPort(port int) bool {
	for _, r := range p.ports {
		if r.lo <= port && port <= r.hi {
			return true
		}
	}
	return false
}

func parseRule(item string) (rule, error) {
	host, port := item, 0
	if h, ps, err := net.SplitHostPort(item); err == nil {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			return rule{}, fmt.Errorf("bad port %q", ps)
		}
		host, port = h, n
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if pfx, err := netip.ParsePrefix(host); err == nil {
		return rule{prefix: pfx.Masked(), port: port}, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		return rule{prefix: netip.PrefixFrom(ip, ip.BitLen()), port: port}, nil
	}
	if host == "" || strings.ContainsAny(host, "/ ") {
		return rule{}, errors.New("not a host name, IP or CIDR")
	}
	return rule{name: strings.ToLower(host), port: port}, nil
}

// Allow adds a rule at run time (the demo server allows its own loopback port).
func (p *Policy) Allow(item string) error {
	r, err := parseRule(item)
	if err != nil {
		return err
	}
	p.rules = append(p.rules, r)
	return nil
}

// IsPublic reports whether ip is an ordinary globally routed unicast address.
func IsPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() ||
		ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublic lists the special-purpose ranges that netip has no predicate for.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64 can embed any IPv4, loopback included
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("2002::/16"),     // 6to4 embeds any IPv4
	netip.MustParsePrefix("2001::/32"),     // Teredo
	netip.MustParsePrefix("::/96"),         // IPv4-compatible (deprecated) embeds any IPv4
}

// Check decides for one resolved address. name is the host name the user
// gave (for name rules); it never makes a refused IP acceptable unless the
// operator listed that name. port 0 matches rules for any port, and any
// port of a public address: FTP data connections go to ports the server
// picks.
func (p *Policy) Check(name string, ip netip.Addr, port int) error {
	ip = ip.Unmap()
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, r := range p.rules {
		if r.port != 0 && port != 0 && r.port != port {
			continue
		}
		if r.name != "" && r.name == name {
			return nil
		}
		if r.prefix.IsValid() && r.prefix.Contains(ip) {
			return nil
		}
	}
	if !IsPublic(ip) {
		return fmt.Errorf("%s (%s) port %d: %w: the operator allows only public addresses unless listed in -allow-hosts", name, ip, port, ErrRefused)
	}
	if port != 0 && !p.publicPort(port) {
		return fmt.Errorf("%s (%s) port %d: %w: public addresses are dialled on FTP ports only (21, 990, and those in -allow-hosts and -allow-ports)", name, ip, port, ErrRefused)
	}
	return nil
}

// Resolver is the part of net.Resolver the dialer needs; tests swap it to
// simulate DNS rebinding.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer resolves, checks and dials. It never connects to an address the
// policy refuses, and it dials the IP it checked, not the name again.
type Dialer struct {
	Policy   *Policy
	Resolver Resolver
	Dialer   net.Dialer
}

// DialContext dials "tcp" addr ("host:port"), the control connection. The
// first allowed address of the name is used.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.dial(ctx, network, addr)
}

// DialDataContext dials an FTP data connection to addr, an IP:port (the
// pool insists it is the control connection's IP). hostName is the name
// the control connection was dialled by: a name rule that let the control
// connection through lets its data connections through too. The port of
// an allow rule does not apply, since the server picks the data port.
func (d *Dialer) DialDataContext(ctx context.Context, network, addr, hostName string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("data connection to %s: %w", addr, err)
	}
	if err := d.Policy.Check(hostName, ap.Addr(), 0); err != nil {
		return nil, err
	}
	// No TCP keep-alive: a data connection lives for one transfer, which
	// the pool's io timeout watches; setting it up was four system calls
	// for every small file.
	data := d.Dialer
	data.KeepAlive = -1
	return data.DialContext(ctx, network, ap.String())
}

func (d *Dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("dial %s: bad port", addr)
	}
	ips, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	// The first refusal is the answer when nothing is allowed; otherwise
	// the allowed addresses are tried in turn (a name may resolve to ::1
	// and 127.0.0.1 with a server on only one of them).
	var refused, failed error
	for _, ip := range ips {
		if err := d.Policy.Check(host, ip, port); err != nil {
			refused = cmp.Or(refused, err)
			continue
		}
		c, err := d.Dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return c, nil
		}
		failed = cmp.Or(failed, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, cmp.Or(failed, refused)
}

// resolve turns a host into addresses. Literal IPs in any spelling that
// inet_aton accepts (127.1, 2130706433, 0x7f000001) are parsed here rather
// than passed to the system resolver, so the policy sees the address the
// kernel would really dial.
func (d *Dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, ok := ParseLooseIP(host); ok {
		return []netip.Addr{ip}, nil
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	return ips, nil
}

// ParseLooseIP parses a literal IP address, IPv6 in brackets or not, and the
// legacy IPv4 forms (one to four parts, each decimal, octal or hex).
func ParseLooseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.WithZone("").Unmap(), true
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 0, 32)
		if err != nil || p == "" {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	// The last part fills the remaining bytes, as inet_aton does.
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*uint(i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*uint(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
