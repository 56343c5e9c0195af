package raftsync_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// TestRemovedNodeStopsSayingReady removes a live voter and a live
// non-voter from a cluster over loopback TCP. Each must stop answering
// /readyz with 200 as soon as it sees a configuration without itself, with
// a reason that says it was removed, long before LeaderLossBound (set to a
// minute here) could make it Degraded; WaitReady then returns ErrRemoved.
//
// raft v1.7.3 delivers the removing entry to the removed server only on a
// best-effort basis: replicateTo gives up when the stop signal arrives
// while it is still sending earlier entries, and it also sends every
// CommitTimeout on an idle cluster. So each removal is made on an idle
// cluster with a CommitTimeout long next to a loopback round trip, where
// raft delivers it (docs/readiness.md says what happens when it does not).
func TestRemovedNodeStopsSayingReady(t *testing.T) {
	var sawRemoved [4]atomic.Bool // by member index
	c := testcluster.New(t, 4, testcluster.Options{NonVoters: 1, Configure: func(i int, cfg *raftsync.Config) {
		cfg.Readiness = readiness.Policy{LeaderLossBound: time.Minute}
		cfg.OnReadinessChange = func(_, now readiness.Status) {
			if now.State == readiness.Removed {
				sawRemoved[i].Store(true)
			}
		}
		cfg.RaftConfig = func(rc *raft.Config) {
			testcluster.FastRaft(rc)
			rc.CommitTimeout = 500 * time.Millisecond
		}
	}})
	leader := c.Leader()
	var voter *testcluster.Member
	for _, m := range c.Followers() {
		if m.Index != 3 {
			voter = m
			break
		}
	}
	for _, m := range []*testcluster.Member{c.Members[3], voter} {
		testutil.WaitFor(t, 10*time.Second, "an idle cluster", func() bool {
			last := leader.Node.Raft().LastIndex()
			for _, o := range c.Running() {
				if o.Node.AppliedIndex() != last {
					return false
				}
			}
			return true
		})
		if err := leader.Node.RemoveServer(ctxTimeout(t, 10*time.Second), m.ID); err != nil {
			t.Fatalf("RemoveServer(%s): %v", m.ID, err)
		}
		srv := httptest.NewServer(m.Node.ReadyHandler())
		var code int
		var body string
		testutil.WaitFor(t, 10*time.Second, m.ID+"'s /readyz saying it was removed", func() bool {
			resp, err := http.Get(srv.URL)
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, body = resp.StatusCode, string(b)
			return code == http.StatusServiceUnavailable && strings.Contains(body, "removed")
		})
		srv.Close()
		if st := m.Node.Readiness().State; st != readiness.Removed {
			t.Fatalf("%s: readiness state %v after /readyz said %q, want removed", m.ID, st, body)
		}
		if err := m.Node.WaitReady(ctxTimeout(t, 5*time.Second)); !errors.Is(err, raftsync.ErrRemoved) {
			t.Fatalf("%s: WaitReady = %v, want ErrRemoved", m.ID, err)
		}
		c.Stop(m)
	}
	// The members left, which joined through older configurations that did
	// not name them, were never taken for removed.
	for _, m := range c.Running() {
		if st := m.Node.Readiness().State; st != readiness.Ready || sawRemoved[m.Index].Load() {
			t.Fatalf("%s: readiness %v after removing others (removed seen: %v), want ready and never removed", m.ID, st, sawRemoved[m.Index].Load())
		}
	}
}

// TestJoinerCatchingUpIsNotRemoved: a node that joins a cluster with a long
// log catches up through configurations that do not name it yet (the
// leader sends one entry per append here, so that lasts seconds). It has
// not been a member of them: it must never be reported removed.
func TestJoinerCatchingUpIsNotRemoved(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
		cfg.RaftConfig = func(rc *raft.Config) {
			testcluster.FastRaft(rc)
			rc.MaxAppendEntries = 1
		}
	}})
	leader := c.Leader()
	const entries = 1000
	var wg sync.WaitGroup
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < entries; i += 10 {
				if _, err := leader.Node.Apply(ctxTimeout(t, 30*time.Second), testcluster.Set(fmt.Sprintf("k%d", i), "v")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var sawRemoved atomic.Bool
	joiner, err := raftsync.Open(ctxTimeout(t, 30*time.Second), raftsync.Config{
		ID: "joiner", Dir: t.TempDir(), Addr: "127.0.0.1:0", Join: []string{leader.Addr},
		Logger: testcluster.Logger(t, "joiner"), RaftConfig: testcluster.FastRaft,
		OnReadinessChange: func(_, now readiness.Status) {
			if now.State == readiness.Removed {
				sawRemoved.Store(true)
			}
		},
	}, testcluster.NewKV())
	if err != nil {
		t.Fatal(err)
	}
	defer joiner.Close()
	if err := joiner.WaitReady(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("joiner: WaitReady = %v", err)
	}
	if sawRemoved.Load() {
		t.Fatal("the joiner was reported removed while it caught up")
	}
}
