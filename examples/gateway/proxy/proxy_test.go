package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
)

func TestMatchingPrefersHostThenLongestPrefix(t *testing.T) {
	r := newRig(t, store.Options{})
	u := newUpstream(t, "u")
	for _, c := range []struct{ id, host, prefix string }{
		{"root", "", "/"}, {"api", "", "/api"}, {"api-v2", "", "/api/v2"},
		{"a-api", "a.example", "/api"}, {"a-root", "a.example", "/"}, {"b-docs", "b.example", "/docs/"},
	} {
		r.put(c.id, route.Route{Host: c.host, PathPrefix: c.prefix, Upstreams: ups(u), SetHeaders: map[string]string{"X-Route": c.id}})
	}
	r.sync(true)
	cases := []struct{ host, path, want string }{
		{"", "/", "root"},
		{"", "/apis", "root"}, // segment boundary: /api does not match /apis
		{"", "/api", "api"},
		{"", "/api/users", "api"},
		{"", "/api/v2/x", "api-v2"},
		{"", "/api/v21", "api"},
		{"a.example", "/api/x", "a-api"},
		{"A.Example:8080", "/api", "a-api"}, // host matching ignores case and port
		{"a.example", "/other", "a-root"},   // a host route beats the host-less root
		{"b.example", "/docs/x", "b-docs"},
		{"b.example", "/docs", "root"}, // "/docs/" needs the slash; falls back to host-less
		{"b.example", "/api/v2", "api-v2"},
	}
	for _, c := range cases {
		code, body := r.get(c.host, c.path)
		if code != 200 || !strings.HasSuffix(body, " "+c.want) {
			t.Errorf("host %q path %q: %d %q, want route %s", c.host, c.path, code, body, c.want)
		}
	}
}

func TestNotBuiltThenNoRoute(t *testing.T) {
	r := newRig(t, store.Options{})
	if code, body := r.get("", "/x"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not built") {
		t.Fatalf("before the first build: %d %s", code, body)
	}
	r.sync(true)
	if code, body := r.get("", "/x"); code != http.StatusNotFound || !strings.Contains(body, "no route") {
		t.Fatalf("empty table: %d %s", code, body)
	}
	if s := r.proxy.Stats(); s.NoRoute != 1 || s.Responses[4] != 1 || s.Responses[5] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWeightedRoundRobin(t *testing.T) {
	r := newRig(t, store.Options{})
	a, b, drained := newUpstream(t, "a"), newUpstream(t, "b"), newUpstream(t, "drained")
	r.put("w", route.Route{PathPrefix: "/", Upstreams: []route.Upstream{{URL: a.URL, Weight: 1}, {URL: b.URL, Weight: 3}, {URL: drained.URL, Weight: 0}}})
	r.sync(true)
	var order []string
	for i := 0; i < 8; i++ {
		_, body := r.get("", "/")
		order = append(order, strings.Fields(body)[0])
	}
	if a.count() != 2 || b.count() != 6 || drained.count() != 0 {
		t.Fatalf("a=%d b=%d drained=%d, want 2, 6, 0 (order %v)", a.count(), b.count(), drained.count(), order)
	}
	// Smooth: a's turns are spread out, not back to back.
	if strings.Join(order[:4], ",") == "a,a,b,b" || order[0] == order[1] && order[1] == order[2] && order[2] == order[3] {
		t.Fatalf("not interleaved: %v", order)
	}
}

func TestStripPrefixHeadersAndBasePath(t *testing.T) {
	r := newRig(t, store.Options{})
	u := newUpstream(t, "u")
	r.put("s", route.Route{PathPrefix: "/api", StripPrefix: true, Upstreams: []route.Upstream{{URL: u.URL + "/base", Weight: 1}},
		SetHeaders: map[string]string{"X-Route": "s", "X-Team": "payments"}})
	r.put("k", route.Route{PathPrefix: "/keep", Upstreams: ups(u)})
	r.sync(true)
	req, _ := http.NewRequest(http.MethodGet, r.front.URL+"/api/users?q=1", nil)
	req.Header.Set("X-Team", "spoofed")
	if code, body := r.do(req); code != 200 || body != "u /base/users?q=1 s" {
		t.Fatalf("%d %q", code, body)
	}
	seen := u.last()
	if seen.Header.Get("X-Team") != "payments" || seen.Header.Get("X-Forwarded-For") == "" || seen.Host != strings.TrimPrefix(u.URL, "http://") {
		t.Fatalf("upstream saw headers %v host %q", seen.Header, seen.Host)
	}
	if _, body := r.get("", "/api"); body != "u /base/ s" {
		t.Fatalf("bare prefix: %q", body)
	}
	if _, body := r.get("", "/keep/x"); body != "u /keep/x " {
		t.Fatalf("no strip: %q", body)
	}
}

func TestRetriesGoToAnotherUpstream(t *testing.T) {
	r := newRig(t, store.Options{})
	good := newUpstream(t, "good")
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // connection refused from now on
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(busy.Close)

	r.put("dead", route.Route{PathPrefix: "/dead", Retries: 1, Upstreams: []route.Upstream{{URL: deadURL, Weight: 1}, {URL: good.URL, Weight: 1}}})
	r.put("busy", route.Route{PathPrefix: "/busy", Retries: 1, Upstreams: []route.Upstream{{URL: busy.URL, Weight: 1}, {URL: good.URL, Weight: 1}}})
	r.put("noretry", route.Route{PathPrefix: "/noretry", Upstreams: []route.Upstream{{URL: deadURL, Weight: 1}}})
	r.sync(true)
	for i := 0; i < 4; i++ { // both rotation orders
		for _, p := range []string{"/dead", "/busy"} {
			if code, body := r.get("", p); code != 200 || !strings.HasPrefix(body, "good ") {
				t.Fatalf("%s try %d: %d %q", p, i, code, body)
			}
		}
	}
	// Retries leave the rotation alone: the failing upstream still gets
	// exactly half of the first attempts, so 8 requests make 4 retries.
	if s := r.proxy.Stats(); s.Retries != 4 {
		t.Fatalf("retries %d, want 4", s.Retries)
	}
	// With two failing upstreams, two retries always reach the good one.
	dead2 := httptest.NewServer(http.NotFoundHandler())
	dead2URL := dead2.URL
	dead2.Close()
	r.put("two", route.Route{PathPrefix: "/two", Retries: 2, Upstreams: []route.Upstream{{URL: deadURL, Weight: 1}, {URL: dead2URL, Weight: 1}, {URL: good.URL, Weight: 1}}})
	r.sync(false)
	for i := 0; i < 3; i++ {
		if code, body := r.get("", "/two"); code != 200 || !strings.HasPrefix(body, "good ") {
			t.Fatalf("/two try %d: %d %q", i, code, body)
		}
	}
	if code, body := r.get("", "/noretry"); code != http.StatusBadGateway || !strings.Contains(body, "failed") {
		t.Fatalf("no retries: %d %q", code, body)
	}
	// A request with a body is never sent twice.
	before := good.count()
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodPost, r.front.URL+"/busy", strings.NewReader("payload"))
		code, _ := r.do(req)
		if code != 200 && code != http.StatusServiceUnavailable {
			t.Fatalf("POST: %d", code)
		}
	}
	if got := good.count() - before; got != 1 {
		t.Fatalf("two POSTs over busy+good reached good %d times, want exactly 1 (no retry)", got)
	}
}

func TestTimeoutAnswers504(t *testing.T) {
	r := newRig(t, store.Options{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-req.Context().Done() // until the proxy gives up
	}))
	t.Cleanup(slow.Close)
	r.put("slow", route.Route{PathPrefix: "/", TimeoutMS: 100, Upstreams: []route.Upstream{{URL: slow.URL, Weight: 1}}})
	r.sync(true)
	start := time.Now()
	code, body := r.get("", "/")
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "did not answer") {
		t.Fatalf("%d %q", code, body)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Fatal("answered before the timeout")
	}
	if s := r.proxy.Stats(); s.Timeouts != 1 {
		t.Fatalf("timeouts %d", s.Timeouts)
	}
}

// A request that is not idempotent reached an upstream once it got an
// answer, even a 502, 503 or 504: sending it to another upstream could do
// it twice. Only GET, HEAD, OPTIONS and TRACE are retried on such answers;
// every method is retried when the connection could not be made, since
// then nothing was sent.
func TestNonIdempotentRequestsAreNotRetriedOnUpstreamAnswers(t *testing.T) {
	r := newRig(t, store.Options{})
	good := newUpstream(t, "good")
	var busyMu sync.Mutex
	busyHits := map[string]int{}
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		busyMu.Lock()
		busyHits[req.Method]++
		busyMu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(busy.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	r.put("busy", route.Route{PathPrefix: "/busy", Retries: 1, Upstreams: []route.Upstream{{URL: busy.URL, Weight: 1}, {URL: good.URL, Weight: 1}}})
	r.put("dead", route.Route{PathPrefix: "/dead", Retries: 1, Upstreams: []route.Upstream{{URL: deadURL, Weight: 1}, {URL: good.URL, Weight: 1}}})
	r.sync(true)

	send := func(method, path string) int {
		t.Helper()
		req, err := http.NewRequest(method, r.front.URL+path, nil) // no body: replayable as far as bytes go
		if err != nil {
			t.Fatal(err)
		}
		code, _ := r.do(req)
		return code
	}
	for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut, "PURGE"} {
		before := good.count()
		codes := []int{send(m, "/busy"), send(m, "/busy")} // both rotation orders
		busyMu.Lock()
		onBusy := busyHits[m]
		busyMu.Unlock()
		if got := good.count() - before; got != 1 || onBusy != 1 {
			t.Errorf("%s twice over busy+good: good got %d, busy got %d (codes %v); want 1 and 1: a 503 answer is not retried", m, got, onBusy, codes)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		before := good.count()
		for i := 0; i < 2; i++ {
			if code := send(m, "/busy"); code != 200 {
				t.Errorf("%s /busy try %d: %d, want 200 after a retry", m, i, code)
			}
		}
		if got := good.count() - before; got != 2 {
			t.Errorf("%s: good got %d of 2", m, got)
		}
	}
	// A refused connection sent nothing: every method may go elsewhere.
	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		for i := 0; i < 2; i++ {
			if code := send(m, "/dead"); code != 200 {
				t.Errorf("%s /dead try %d: %d, want 200 (retried after connection refused)", m, i, code)
			}
		}
	}
}
