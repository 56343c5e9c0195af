package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/examples/gateway/admin"
	"github.com/raftkit/raftkit/examples/gateway/route"
	"github.com/raftkit/raftkit/examples/gateway/store"
	"github.com/raftkit/raftkit/internal/crashsim"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// lateStore is a store whose Routes first lets a write be applied: the
// admin API reads the store after ReadIndex returned, so its answer may
// reflect entries applied after the read index.
type lateStore struct {
	store.Store
	late atomic.Pointer[func()]
}

func (s *lateStore) Routes() ([]store.RouteEntry, uint64) {
	if f := s.late.Swap(nil); f != nil {
		(*f)()
	}
	return s.Store.Routes()
}

// TestReadFenceCoversAdminReads: with the read fence on and persistence
// throttled to once an hour, a node answers an admin read whose
// X-Raft-Index reflects an entry applied after its read index, then
// crashes (no final record). Re-opened alone, it must hold at least what
// that answer showed: the admin API fences what it read, not only the read
// index.
func TestReadFenceCoversAdminReads(t *testing.T) {
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
	st := &lateStore{Store: store.NewMem(store.Options{})}
	node, err := raftsync.Open(ctx, cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	crashed := false
	t.Cleanup(func() {
		if !crashed {
			node.Close()
		}
	})
	if err := node.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// The test calls the API itself, over loopback: no credentials.
	srv, err := admin.New(admin.Config{Node: node, Store: st, Timeout: 5 * time.Second, Auth: admin.Auth{Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	var rt route.Route
	if err := json.Unmarshal([]byte(routeBody), &rt); err != nil {
		t.Fatal(err)
	}
	put := func(id string) {
		res, err := node.Apply(ctx, route.Command{Op: route.OpPutRoute, ID: id, Route: &rt}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if err := node.WaitIndex(ctx, res.Index); err != nil {
			t.Fatal(err)
		}
	}
	put("first")
	late := func() { put("late") }
	st.late.Store(&late)

	resp, err := http.Get(hs.URL + "/v1/routes?consistency=strong")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	served, err := strconv.ParseUint(resp.Header.Get("X-Raft-Index"), 10, 64)
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("admin read: %d, X-Raft-Index %q", resp.StatusCode, resp.Header.Get("X-Raft-Index"))
	}

	crashed = true
	if err := crash.Crash(node); err != nil {
		t.Fatal(err)
	}
	again, err := raftsync.Open(ctx, cfg, store.NewMem(store.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	// The persisted applied index the re-opened node recovered from,
	// is what it holds whatever the cluster does afterwards.
	if got := again.Status().PersistedIndex; got < served {
		t.Fatalf("after a crash the node recovered to index %d, below the %d an admin read served", got, served)
	}
}
