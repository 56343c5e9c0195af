package route_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/raftkit/raftkit/examples/gateway/route"
)

func TestUpstreamPolicyClasses(t *testing.T) {
	strict := &route.UpstreamPolicy{}
	onPrem := &route.UpstreamPolicy{AllowPrivate: true}
	demo := &route.UpstreamPolicy{AllowLoopback: true}
	cases := []struct {
		addr                 string
		strict, onPrem, demo bool // allowed under each policy
	}{
		{"93.184.216.34:80", true, true, true},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", true, true, true},
		{"127.0.0.1:80", false, false, true},
		{"127.8.9.10:80", false, false, true},
		{"[::1]:80", false, false, true},
		{"[::ffff:127.0.0.1]:80", false, false, true},
		{"169.254.169.254:80", false, false, false},
		{"[fe80::1]:80", false, false, false},
		{"[::ffff:169.254.169.254]:80", false, false, false},
		{"[64:ff9b::a9fe:a9fe]:80", false, false, false}, // NAT64 of 169.254.169.254
		{"0.0.0.0:80", false, false, false},
		{"0.1.2.3:80", false, false, false},
		{"[::]:80", false, false, false},
		{"224.0.0.1:80", false, false, false},
		{"[ff02::1]:80", false, false, false},
		{"255.255.255.255:80", false, false, false},
		{"[::7f00:1]:80", false, false, false}, // IPv4-compatible form of 127.0.0.1
		{"10.1.2.3:80", false, true, false},
		{"172.16.0.1:80", false, true, false},
		{"172.32.0.1:80", true, true, true},
		{"192.168.1.1:80", false, true, false},
		{"100.64.0.1:80", false, true, false},
		{"[fd00::1]:80", false, true, false},
	}
	for _, c := range cases {
		ap := netip.MustParseAddrPort(c.addr)
		for _, p := range []struct {
			name string
			pol  *route.UpstreamPolicy
			want bool
		}{{"strict", strict, c.strict}, {"private", onPrem, c.onPrem}, {"loopback", demo, c.demo}} {
			err := p.pol.CheckAddr(ap)
			if (err == nil) != p.want {
				t.Errorf("%s under %s: err %v, want allowed=%v", c.addr, p.name, err, p.want)
			}
			if err != nil && !errors.Is(err, route.ErrForbiddenUpstream) {
				t.Errorf("%s: %v does not wrap ErrForbiddenUpstream", c.addr, err)
			}
			// The dial-time guard judges the same way.
			if derr := p.pol.DialControl("tcp", c.addr, nil); (derr == nil) != p.want {
				t.Errorf("DialControl %s under %s: %v", c.addr, p.name, derr)
			}
		}
	}
}

func TestUpstreamPolicyOwnAddresses(t *testing.T) {
	ctx := context.Background()
	p := &route.UpstreamPolicy{AllowLoopback: true, AllowPrivate: true}
	for _, a := range []string{"127.0.0.1:8001", "10.0.0.5:7001", ":9001"} {
		if err := p.AddOwn(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for addr, allowed := range map[string]bool{
		"127.0.0.1:8001": false, "127.0.0.1:8002": true, "127.0.0.2:8001": true,
		"10.0.0.5:7001": false, "10.0.0.6:7001": true,
		"127.0.0.1:9001": false, "[::1]:9001": false, // bound to every address
	} {
		if err := p.CheckAddr(netip.MustParseAddrPort(addr)); (err == nil) != allowed {
			t.Errorf("%s: %v, want allowed=%v", addr, err, allowed)
		}
	}
}

func TestUpstreamPolicyResolvesNames(t *testing.T) {
	p := &route.UpstreamPolicy{LookupNetIP: func(_ context.Context, _, host string) ([]netip.Addr, error) {
		switch host {
		case "metadata.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("169.254.169.254")}, nil
		case "public.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		return nil, errors.New("no such host")
	}}
	ctx := context.Background()
	ups := []route.Upstream{{URL: "http://public.example"}, {URL: "https://metadata.example:8443/x"}}
	err := p.CheckUpstreams(ctx, ups)
	var ve *route.ValidationError
	if !errors.As(err, &ve) || ve.Field != "upstreams[1].url" || !errors.Is(err, route.ErrInvalid) || !errors.Is(err, route.ErrForbiddenUpstream) || !strings.Contains(ve.Reason, "169.254.169.254") {
		t.Fatalf("got %v (%#v)", err, ve)
	}
	// A name that does not resolve now is left to the dial-time guard.
	if err := p.CheckUpstreams(ctx, []route.Upstream{{URL: "http://later.example"}}); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckURL(ctx, "http://[::1]:80"); !errors.Is(err, route.ErrForbiddenUpstream) {
		t.Fatal(err)
	}
}

// A host that is a number in a form netip does not take ("127.1",
// "2130706433", "0x7f.0.0.1") is an IP address to the C resolver (and to
// browsers), which the policy cannot judge as written: refused.
func TestUpstreamPolicyRefusesNonCanonicalNumericHosts(t *testing.T) {
	p := &route.UpstreamPolicy{LookupNetIP: func(context.Context, string, string) ([]netip.Addr, error) {
		return nil, errors.New("no such host") // as Go's own resolver answers
	}}
	for _, u := range []string{"http://127.1", "http://2130706433:80", "http://0x7f.0.0.1", "http://0177.0.0.1", "http://169.254.43518", "http://1.2.3.4.5"} {
		if err := p.CheckURL(context.Background(), u); !errors.Is(err, route.ErrForbiddenUpstream) {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://1password.example", "http://123.example", "http://a1.b2"} {
		if err := p.CheckURL(context.Background(), u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
