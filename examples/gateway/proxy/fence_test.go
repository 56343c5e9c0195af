package proxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/examples/gateway/proxy"
	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/internal/crashsim"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// TestProxyTableIsFenced: with the node's read fence on and persistence
// throttled to once an hour, the proxy follows the node as the gateway
// wires it (Options.Fence = Node.Fence). After a crash (no final record),
// the node re-opens from a persisted applied index at least the index of
// the last table the proxy served, so a proxy rebuilt from it never serves
// an older table.
func TestProxyTableIsFenced(t *testing.T) {
	dir := t.TempDir()
	cfg := raftsync.Config{
		ID: "n1", Dir: dir, Addr: "127.0.0.1:0", Bootstrap: true,
		Logger:    hclog.NewNullLogger(),
		ReadFence: true,
		Persist:   readiness.PersistPolicy{EveryEntries: 1 << 40, Interval: time.Hour},
		RaftConfig: func(rc *raft.Config) {
			rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 200*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond
		},
	}
	var crash crashsim.Switch
	crash.Install(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := store.NewMem(store.Options{})
	node, err := raftsync.Open(ctx, cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.WaitReady(ctx); err != nil {
		node.Close()
		t.Fatal(err)
	}
	p := proxy.New(st, proxy.Options{Fence: node.Fence})
	sub := node.SubscribeChanges()
	done := make(chan struct{})
	go func() { p.Run(sub.C()); close(done) }()

	var rt route.Route
	if err := json.Unmarshal([]byte(`{"path_prefix":"/api","upstreams":[{"url":"http://127.0.0.1:9001","weight":1}]}`), &rt); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, id := range []string{"a", "b", "c"} {
		res, err := node.Apply(ctx, route.Command{Op: route.OpPutRoute, ID: id, Route: &rt}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		last = res.Index
	}
	testutil.WaitFor(t, 10*time.Second, "the proxy serving the last write", func() bool { return p.Stats().TableIndex >= last })
	served := p.Stats().TableIndex

	if err := crash.Crash(node); err != nil {
		t.Fatal(err)
	}
	<-done // the crash closes the subscription
	p.Close()
	again, err := raftsync.Open(ctx, cfg, store.NewMem(store.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := again.Status().PersistedIndex; got < served {
		t.Fatalf("after a crash the node recovered to index %d, below the table at %d its proxy served", got, served)
	}
}

// TestFenceGatesEveryTable: the proxy calls Options.Fence with a table's
// index before serving it, for the first build and for each change; while
// the fence fails it keeps serving the table it had, does not claim to
// cover the change, and tries again at the next one.
func TestFenceGatesEveryTable(t *testing.T) {
	var mu sync.Mutex
	var fenced []uint64
	fail := false
	var r *rig
	r = newRigWith(t, store.Options{}, proxy.Options{Fence: func(_ context.Context, index uint64) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return errFence
		}
		// Nothing at this index is served yet.
		if got := r.proxy.Stats().TableIndex; got >= index {
			t.Errorf("fence for index %d called with the table already at %d", index, got)
		}
		fenced = append(fenced, index)
		return nil
	}})
	a, b := newUpstream(t, "a"), newUpstream(t, "b")
	r.put("r1", route.Route{PathPrefix: "/r1", Upstreams: ups(a)})
	r.sync(true)
	first := r.index
	r.put("r1", route.Route{PathPrefix: "/r1", Upstreams: ups(b)})
	r.sync(false)
	second := r.index
	mu.Lock()
	if len(fenced) != 2 || fenced[0] != first || fenced[1] != second {
		t.Fatalf("fenced %v, want [%d %d]", fenced, first, second)
	}
	fail = true
	mu.Unlock()

	r.put("r1", route.Route{PathPrefix: "/r1", Upstreams: ups(a)})
	r.sync(false)
	if s := r.proxy.Stats(); s.TableIndex != second || s.SyncedIndex != second {
		t.Fatalf("with the fence failing the table moved: %+v", s)
	}
	if _, body := r.get("", "/r1"); !strings.HasPrefix(body, "b ") {
		t.Fatalf("with the fence failing the route was swapped: %q", body)
	}

	mu.Lock()
	fail = false
	mu.Unlock()
	r.sync(false)
	if s := r.proxy.Stats(); s.TableIndex != r.index || s.SyncedIndex != r.index {
		t.Fatalf("after the fence recovered: %+v", s)
	}
	if _, body := r.get("", "/r1"); !strings.HasPrefix(body, "a ") {
		t.Fatalf("after the fence recovered the route was not swapped: %q", body)
	}
}

var errFence = errors.New("fence failed")
