package route

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrForbiddenUpstream is wrapped by the errors that refuse an upstream
// because of where it points (UpstreamPolicy), at validation and at dial
// time alike.
var ErrForbiddenUpstream = errors.New("upstream address not allowed")

// UpstreamPolicy decides which addresses routes may send traffic to, so
// that whoever can write a route cannot turn the public proxy against the
// gateway's own host or network (server-side request forgery).
//
// Refused always: unspecified addresses (0.0.0.0, ::) and the rest of
// 0.0.0.0/8, link-local addresses (169.254.0.0/16, where cloud metadata
// services live, and fe80::/10), multicast and broadcast, and the node's
// own listening addresses (AddOwn). Refused unless allowed: loopback
// (127.0.0.0/8, ::1; AllowLoopback) and private ranges (10.0.0.0/8,
// 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, fc00::/7; AllowPrivate).
// IPv4 addresses written as IPv6 (::ffff:a.b.c.d, 64:ff9b::a.b.c.d) are
// judged as the IPv4 address they carry.
//
// The zero value is the strictest policy. Its methods are safe for
// concurrent use; do not copy a policy after first use.
type UpstreamPolicy struct {
	// AllowPrivate admits the private ranges, for on-premises upstreams.
	AllowPrivate bool
	// AllowLoopback admits loopback addresses, for tests and demos on one
	// machine. The node's own listeners stay refused.
	AllowLoopback bool
	// LookupNetIP resolves host names at validation. Default:
	// net.DefaultResolver.LookupNetIP.
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)

	mu    sync.RWMutex
	own   []netip.AddrPort
	local []netip.Addr // interface addresses, for own listeners bound to every address
}

// AddOwn records one of the node's listening addresses (host:port, as
// given to net.Listen or as advertised) as forbidden. A host name is
// resolved now; an unspecified host (":8001", "0.0.0.0:8001") forbids the
// port on every address of this machine.
func (p *UpstreamPolicy) AddOwn(ctx context.Context, hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("own address %q: %w", hostport, err)
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("own address %q: bad port", hostport)
	}
	var ips []netip.Addr
	switch ip, err := netip.ParseAddr(host); {
	case host == "":
		ips = []netip.Addr{netip.IPv4Unspecified()}
	case err == nil:
		ips = []netip.Addr{ip.Unmap().WithZone("")}
	default:
		if ips, err = p.lookup(ctx, host); err != nil {
			return fmt.Errorf("own address %q: %w", hostport, err)
		}
	}
	var local []netip.Addr
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil {
				local = append(local, pfx.Addr().Unmap())
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ip := range ips {
		p.own = append(p.own, netip.AddrPortFrom(ip.Unmap(), uint16(pn)))
	}
	p.local = local
	return nil
}

// CheckAddr returns nil when the policy allows traffic to ap, and an error
// wrapping ErrForbiddenUpstream that says why not otherwise.
func (p *UpstreamPolicy) CheckAddr(ap netip.AddrPort) error {
	ip := ap.Addr().WithZone("")
	if c := p.refusedClass(ip); c != "" {
		return fmt.Errorf("%w: %s is %s", ErrForbiddenUpstream, ip, c)
	}
	if p.isOwn(netip.AddrPortFrom(embeddedIPv4(ip), ap.Port())) {
		return fmt.Errorf("%w: %s is this gateway's own listening address", ErrForbiddenUpstream, ap)
	}
	return nil
}

// refusedClass names the class that makes ip refused, or returns "".
func (p *UpstreamPolicy) refusedClass(ip netip.Addr) string {
	ip = embeddedIPv4(ip)
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsUnspecified():
		return "an unspecified address (it reaches this machine)"
	case ip.Is4() && ip.As4()[0] == 0:
		return `in 0.0.0.0/8 ("this network", it reaches this machine)`
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "a link-local address (cloud metadata services live there)"
	case ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "a multicast or broadcast address"
	case ip.Is6() && ipv4Compatible.Contains(ip) && !ip.IsLoopback():
		return "a deprecated IPv4-compatible IPv6 address"
	case ip.IsLoopback():
		if !p.AllowLoopback {
			return "a loopback address (allowed only with -allow-loopback-upstreams)"
		}
	case ip.IsPrivate() || sharedAddressSpace.Contains(ip):
		if !p.AllowPrivate {
			return "a private address (allowed only with -allow-private-upstreams)"
		}
	}
	return ""
}

var (
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")
	nat64              = netip.MustParsePrefix("64:ff9b::/96")
	ipv4Compatible     = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 returns the IPv4 address an IPv4-mapped or NAT64 IPv6
// address carries, and ip itself otherwise.
func embeddedIPv4(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	return ip
}

func (p *UpstreamPolicy) isOwn(ap netip.AddrPort) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, o := range p.own {
		if o.Port() != ap.Port() {
			continue
		}
		if o.Addr() == ap.Addr() {
			return true
		}
		if o.Addr().IsUnspecified() && p.isLocalLocked(ap.Addr()) {
			return true
		}
	}
	return false
}

func (p *UpstreamPolicy) isLocalLocked(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	for _, l := range p.local {
		if l == ip {
			return true
		}
	}
	return false
}

// CheckURL checks one upstream URL (already valid by ValidateUpstreamURL):
// an IP literal directly, a host name by resolving it now and checking
// every address it has. A name that does not resolve is let through: the
// dial-time guard (DialControl) judges whatever it resolves to later.
// Errors wrap ErrForbiddenUpstream, or are ctx's error.
func (p *UpstreamPolicy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %q does not parse", ErrForbiddenUpstream, raw)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("%w: %q has no usable port", ErrForbiddenUpstream, raw)
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(netip.AddrPortFrom(ip, uint16(pn)))
	}
	if endsInNumber(host) {
		return fmt.Errorf("%w: %q is an IP address in a form other than a.b.c.d (the C resolver reads 127.1 as 127.0.0.1); write it in full", ErrForbiddenUpstream, host)
	}
	ips, err := p.lookup(ctx, host)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	for _, ip := range ips {
		if err := p.CheckAddr(netip.AddrPortFrom(ip, uint16(pn))); err != nil {
			return fmt.Errorf("%s resolves to %s: %w", host, ip, err)
		}
	}
	return nil
}

// CheckUpstreams checks every upstream with CheckURL and returns a
// *ValidationError naming the first refused one (field "upstreams[i].url"),
// which unwraps to ErrInvalid and ErrForbiddenUpstream.
func (p *UpstreamPolicy) CheckUpstreams(ctx context.Context, ups []Upstream) error {
	for i, u := range ups {
		if err := p.CheckURL(ctx, u.URL); err != nil {
			if !errors.Is(err, ErrForbiddenUpstream) {
				return err
			}
			return &ValidationError{Field: "upstreams[" + strconv.Itoa(i) + "].url", Reason: fmt.Sprintf("%q: %v", u.URL, err), Cause: ErrForbiddenUpstream}
		}
	}
	return nil
}

// DialControl is a net.Dialer Control function that refuses to connect to
// an address the policy forbids. It runs after name resolution, on the
// address actually dialled, so a name that resolved to an allowed address
// at validation and to a forbidden one later (DNS rebinding) is still
// refused.
func (p *UpstreamPolicy) DialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot judge dial address %q", ErrForbiddenUpstream, address)
	}
	return p.CheckAddr(ap)
}

// endsInNumber reports whether host's last label is a number (decimal, or
// hex with 0x): the WHATWG URL standard then parses the host as an IPv4
// address, as inet_aton does ("127.1", "2130706433", "0x7f.1"). No DNS
// top-level domain is numeric.
func endsInNumber(host string) bool {
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := labels[len(labels)-1]
	if h, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		last = h
		for i := 0; i < len(last); i++ {
			if c := last[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
		return true
	}
	if last == "" {
		return false
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

func (p *UpstreamPolicy) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if p.LookupNetIP != nil {
		return p.LookupNetIP(ctx, "ip", host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}
