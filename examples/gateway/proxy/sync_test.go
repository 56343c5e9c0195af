package proxy_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/readiness"
)

// The table is built once; later changes swap only the routes they touch.
func TestSyncBuildsOnceThenSwapsOnlyChangedRoutes(t *testing.T) {
	r := newRig(t, store.Options{})
	a, b := newUpstream(t, "a"), newUpstream(t, "b")
	for _, id := range []string{"r1", "r2", "r3"} {
		r.put(id, route.Route{PathPrefix: "/" + id, Upstreams: ups(a)})
	}
	// However many entries a restart replays, only the Initial change
	// reaches the proxy, and it builds once.
	r.sync(true)
	if s := r.proxy.Stats(); s.FullRebuilds != 1 || s.RouteSwaps != 0 || s.Routes != 3 || s.TableIndex != r.index {
		t.Fatalf("after the initial change: %+v", s)
	}

	// One route changes upstream, in place.
	r.put("r2", route.Route{PathPrefix: "/r2", Upstreams: ups(b)})
	r.sync(false)
	if s := r.proxy.Stats(); s.FullRebuilds != 1 || s.RouteSwaps != 1 || s.IndexUpdates != 0 {
		t.Fatalf("after one in-place change: %+v", s)
	}
	if _, body := r.get("", "/r2"); !strings.HasPrefix(body, "b ") {
		t.Fatalf("r2 not swapped: %q", body)
	}
	if _, body := r.get("", "/r1"); !strings.HasPrefix(body, "a ") {
		t.Fatalf("r1 disturbed: %q", body)
	}

	// One added, one moved to another prefix, one deleted: three swaps,
	// one new matching index.
	r.put("r4", route.Route{PathPrefix: "/r4", Upstreams: ups(b)})
	r.put("r3", route.Route{PathPrefix: "/moved", Upstreams: ups(b)})
	r.apply(route.Command{Op: route.OpDeleteRoute, ID: "r1"})
	r.sync(false)
	if s := r.proxy.Stats(); s.FullRebuilds != 1 || s.RouteSwaps != 4 || s.IndexUpdates != 1 || s.Routes != 3 {
		t.Fatalf("after add+move+delete: %+v", s)
	}
	for path, want := range map[string]int{"/r1/x": 404, "/r3": 404, "/moved": 200, "/r4": 200, "/r2": 200} {
		if code, _ := r.get("", path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}

	// A change the table already covers (a node-internal entry, say) does
	// nothing.
	r.proxy.Sync(readiness.Change{From: r.index - 1, To: r.index})
	if s := r.proxy.Stats(); s.RouteSwaps != 4 || s.FullRebuilds != 1 {
		t.Fatalf("a covered change did work: %+v", s)
	}
}

// When WaitReady returned before any change came (the recovered grace),
// main builds the table itself; the Initial change that follows is then
// applied incrementally, not as a second build.
func TestBuildThenInitialIsIncremental(t *testing.T) {
	r := newRig(t, store.Options{})
	u := newUpstream(t, "u")
	r.put("x", route.Route{PathPrefix: "/x", Upstreams: ups(u)})
	r.proxy.Build()
	r.proxy.Build()
	r.put("y", route.Route{PathPrefix: "/y", Upstreams: ups(u)})
	r.sync(true)
	if s := r.proxy.Stats(); s.FullRebuilds != 1 || s.RouteSwaps != 1 || s.Routes != 2 {
		t.Fatalf("%+v", s)
	}
}

// When the store can no longer say what changed, the proxy rebuilds.
func TestCompactedHistoryRebuilds(t *testing.T) {
	r := newRig(t, store.Options{MaxTombstones: 1})
	u := newUpstream(t, "u")
	for _, id := range []string{"a", "b", "c"} {
		r.put(id, route.Route{PathPrefix: "/" + id, Upstreams: ups(u)})
	}
	r.sync(true)
	r.apply(route.Command{Op: route.OpDeleteRoute, ID: "a"})
	r.apply(route.Command{Op: route.OpDeleteRoute, ID: "b"}) // a's tombstone is dropped
	r.sync(false)
	if s := r.proxy.Stats(); s.FullRebuilds != 2 || s.Routes != 1 {
		t.Fatalf("%+v", s)
	}
	if code, _ := r.get("", "/a"); code != 404 {
		t.Fatalf("/a served after its deletion: %d", code)
	}
}

// A swap never disturbs a request in flight, nor the client's connection.
func TestSwapKeepsInFlightRequestsAndConnections(t *testing.T) {
	r := newRig(t, store.Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/hold" {
			close(entered)
			<-release
		}
		io.WriteString(w, "old")
	}))
	t.Cleanup(old.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	next := newUpstream(t, "next")
	r.put("svc", route.Route{PathPrefix: "/", Upstreams: []route.Upstream{{URL: old.URL, Weight: 1}}})
	r.sync(true)

	// A keep-alive connection used before and after the swap.
	var conns []net.Conn
	get := func(path string) string {
		t.Helper()
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(ci httptrace.GotConnInfo) { conns = append(conns, ci.Conn) },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.front.URL+path, nil)
		code, body := r.do(req)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		return body
	}
	if got := get("/warm"); got != "old" {
		t.Fatalf("before: %q", got)
	}

	held := make(chan string, 1)
	go func() {
		resp, err := http.Get(r.front.URL + "/hold") // its own connection
		if err != nil {
			held <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		held <- resp.Status + " " + string(b)
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the held request never reached the old upstream")
	}

	r.put("svc", route.Route{PathPrefix: "/", Upstreams: ups(next)})
	r.sync(false)
	if got := get("/after"); !strings.HasPrefix(got, "next ") {
		t.Fatalf("after the swap: %q", got)
	}
	close(release)
	select {
	case got := <-held:
		if got != "200 OK old" {
			t.Fatalf("in-flight request: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request never finished")
	}
	if len(conns) != 2 || conns[0] != conns[1] {
		t.Fatalf("the client's connection changed across the swap: %v", conns)
	}
	if s := r.proxy.Stats(); s.FullRebuilds != 1 || s.RouteSwaps != 1 || s.IndexUpdates != 0 {
		t.Fatalf("%+v", s)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// Run follows a channel of changes until it is closed.
func TestRunFollowsChanges(t *testing.T) {
	r := newRig(t, store.Options{})
	u := newUpstream(t, "u")
	ch := make(chan readiness.Change, 1)
	done := make(chan struct{})
	go func() { r.proxy.Run(ch); close(done) }()
	r.put("a", route.Route{PathPrefix: "/a", Upstreams: ups(u)})
	ch <- readiness.Change{To: r.index, Initial: true}
	waitFor(t, func() bool { return r.proxy.Stats().FullRebuilds == 1 })
	r.put("b", route.Route{PathPrefix: "/b", Upstreams: ups(u)})
	ch <- readiness.Change{From: r.index - 1, To: r.index}
	close(ch)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the channel closed")
	}
	if s := r.proxy.Stats(); s.FullRebuilds != 1 || s.RouteSwaps != 1 || s.Routes != 2 {
		t.Fatalf("%+v", s)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// WaitIndex returns once the table covers the index, and not before.
func TestWaitIndex(t *testing.T) {
	r := newRig(t, store.Options{})
	u := newUpstream(t, "u")
	r.put("a", route.Route{PathPrefix: "/a", Upstreams: ups(u)})
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.proxy.WaitIndex(short, 1); err == nil {
		t.Fatal("WaitIndex returned before the table was built")
	}
	r.proxy.Build()
	if err := r.proxy.WaitIndex(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	r.put("b", route.Route{PathPrefix: "/b", Upstreams: ups(u)})
	done := make(chan error, 1)
	go func() { done <- r.proxy.WaitIndex(context.Background(), r.index+5) }()
	r.proxy.Sync(readiness.Change{From: 1, To: r.index + 4}) // not far enough
	select {
	case err := <-done:
		t.Fatalf("WaitIndex returned early: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	r.proxy.Sync(readiness.Change{From: r.index + 4, To: r.index + 5})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitIndex did not return once the table covered the index")
	}
	if code, _ := r.get("", "/b"); code != 200 {
		t.Fatalf("/b after WaitIndex: %d", code)
	}
	if s := r.proxy.Stats(); s.SyncedIndex != r.index+5 {
		t.Fatalf("%+v", s)
	}
}
