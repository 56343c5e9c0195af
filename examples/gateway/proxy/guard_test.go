package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/raftkit/raftkit/examples/gateway/proxy"
	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
)

// The proxy refuses, when it dials, an upstream its policy forbids, even
// one that reached the table (written by a node with a laxer policy, or a
// host name that resolved elsewhere when the route was checked: DNS
// rebinding). Nothing reaches the upstream.
func TestDialGuardRefusesForbiddenUpstreams(t *testing.T) {
	u := newUpstream(t, "inner")
	port := u.URL[strings.LastIndexByte(u.URL, ':'):]
	for _, c := range []struct {
		name   string
		policy *route.UpstreamPolicy
		url    string
		want   int
	}{
		{"loopback literal", &route.UpstreamPolicy{}, u.URL, http.StatusBadGateway},
		{"name resolving to loopback", &route.UpstreamPolicy{}, "http://localhost" + port, http.StatusBadGateway},
		{"loopback allowed", &route.UpstreamPolicy{AllowLoopback: true}, u.URL, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := u.count()
			r := newRigWith(t, store.Options{}, proxy.Options{Upstreams: c.policy})
			r.put("r", route.Route{PathPrefix: "/", Upstreams: []route.Upstream{{URL: c.url, Weight: 1}}})
			r.sync(true)
			code, body := r.get("", "/x")
			if code != c.want {
				t.Fatalf("%d %q, want %d", code, body, c.want)
			}
			if c.want != http.StatusOK {
				if got := u.count() - before; got != 0 {
					t.Fatalf("the forbidden upstream got %d requests", got)
				}
				if !strings.Contains(body, "not allowed") {
					t.Fatalf("the answer does not say why: %q", body)
				}
			}
		})
	}

	// The proxy's own address, even with loopback allowed: no loops.
	r := newRigWith(t, store.Options{}, proxy.Options{Upstreams: &route.UpstreamPolicy{AllowLoopback: true}})
	if err := r.policy.AddOwn(t.Context(), strings.TrimPrefix(r.front.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	r.put("self", route.Route{PathPrefix: "/", Upstreams: []route.Upstream{{URL: r.front.URL, Weight: 1}}})
	r.sync(true)
	if code, body := r.get("", "/loop"); code != http.StatusBadGateway || !strings.Contains(body, "own listening address") {
		t.Fatalf("self: %d %q", code, body)
	}
	if s := r.proxy.Stats(); s.Responses[5] != 1 || s.Responses[2] != 0 {
		t.Fatalf("the proxy served itself: %+v", s.Responses)
	}
}

// The proxy ignores HTTP_PROXY and friends: a configured upstream is
// dialled directly, so the guard judges the real destination.
func TestUpstreamsIgnoreProxyEnvironment(t *testing.T) {
	seen := make(chan string, 1)
	envProxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case seen <- req.URL.String():
		default:
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(envProxy.Close)
	t.Setenv("HTTP_PROXY", envProxy.URL)
	t.Setenv("NO_PROXY", "")
	r := newRigWith(t, store.Options{}, proxy.Options{Upstreams: &route.UpstreamPolicy{AllowLoopback: true}})
	// net/http sends nothing for a loopback destination through a proxy;
	// name a private one, which the guard refuses before any packet
	// leaves, so only the env proxy could answer 200-something.
	r.put("r", route.Route{PathPrefix: "/", Upstreams: []route.Upstream{{URL: "http://10.255.255.1:8080", Weight: 1}}})
	r.sync(true)
	code, body := r.get("", "/")
	if code == http.StatusTeapot {
		t.Fatalf("the request went through HTTP_PROXY: %s", <-seen)
	}
	if code != http.StatusBadGateway || !strings.Contains(body, "private address") {
		t.Fatalf("%d %q, want the guard's 502", code, body)
	}
}
