package raftsync_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// transitions records every readiness change of each member, across
// restarts.
type transitions struct {
	mu  sync.Mutex
	log map[string][]readiness.Status
}

func newTransitions() *transitions { return &transitions{log: map[string][]readiness.Status{}} }

func (tr *transitions) configure(_ int, cfg *raftsync.Config) {
	id := cfg.ID
	cfg.OnReadinessChange = func(_, now readiness.Status) {
		tr.mu.Lock()
		tr.log[id] = append(tr.log[id], now)
		tr.mu.Unlock()
	}
}

func (tr *transitions) reset(id string) {
	tr.mu.Lock()
	tr.log[id] = nil
	tr.mu.Unlock()
}

func (tr *transitions) states(id string) []readiness.Status {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]readiness.Status(nil), tr.log[id]...)
}

// checkStartupOrder asserts that a start went Starting/Recovering →
// Recovered → (CatchingUp) → Ready without going backwards, and that Ready
// was reported only with applied ≥ sync point.
func checkStartupOrder(t *testing.T, id string, sts []readiness.Status) {
	t.Helper()
	rank := map[readiness.State]int{
		readiness.Starting: 0, readiness.Recovering: 1, readiness.Recovered: 2,
		readiness.CatchingUp: 3, readiness.Ready: 4,
	}
	prev := -1
	sawRecovered, sawReady := false, false
	for _, st := range sts {
		if !st.ReadyInvariantHolds() {
			t.Fatalf("%s reported %v with applied %d < sync %d", id, st.State, st.Applied, st.SyncIndex)
		}
		r, ok := rank[st.State]
		if !ok || sawReady {
			break // Degraded/Closed after Ready are not part of the start
		}
		if r < prev {
			t.Fatalf("%s went backwards: %v after rank %d; all: %v", id, st.State, prev, stateNames(sts))
		}
		prev = r
		sawRecovered = sawRecovered || st.State == readiness.Recovered
		sawReady = sawReady || st.State == readiness.Ready
	}
	if !sawRecovered || !sawReady {
		t.Fatalf("%s start skipped Recovered or Ready: %v", id, stateNames(sts))
	}
}

func stateNames(sts []readiness.Status) []string {
	out := make([]string, len(sts))
	for i, s := range sts {
		out[i] = s.State.String()
	}
	return out
}

func TestFollowerRestartReadyOnlyWhenCaughtUp(t *testing.T) {
	tr := newTransitions()
	c := testcluster.New(t, 3, testcluster.Options{Configure: tr.configure})
	f := c.Followers()[0]
	for i := 0; i < 50; i++ {
		mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("a%d", i), "1"))
	}
	c.Stop(f)
	// Writes continue while it is down; the last acknowledged one must be
	// visible once it is Ready again.
	var lastAck uint64
	for i := 0; i < 50; i++ {
		lastAck = mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("b%d", i), "2"))
	}
	tr.reset(f.ID)
	c.Start(f)
	c.WaitReady(f)
	st := f.Node.Readiness()
	if st.Applied < st.SyncIndex || st.Applied < lastAck {
		t.Fatalf("ready with applied %d, sync %d, last acknowledged write %d", st.Applied, st.SyncIndex, lastAck)
	}
	if v, _ := f.KV().Get("b49"); v != "2" {
		t.Fatal("a Stale read right after WaitReady misses a write acknowledged before the restart")
	}
	checkStartupOrder(t, f.ID, tr.states(f.ID))
}

func TestWholeClusterRestart(t *testing.T) {
	for _, ls := range logStores {
		t.Run(ls.name, func(t *testing.T) {
			tr := newTransitions()
			c := testcluster.New(t, 3, testcluster.Options{Configure: tr.configure, LogStore: ls.factory})
			var lastAck uint64
			for i := 0; i < 100; i++ {
				lastAck = mustApply(t, c.Members[i%3], testcluster.Set(fmt.Sprintf("k%d", i), "v"))
			}
			waitConverged(t, c, lastAck) // every node applied, so every node recorded, all 100
			for _, m := range c.Members {
				c.Stop(m)
				tr.reset(m.ID)
			}
			// Each node recovers on its own: Open returns before any peer is up.
			for _, m := range c.Members {
				c.Start(m)
				if st := m.Node.Readiness(); st.State != readiness.Recovered || st.Applied < st.Persisted {
					t.Fatalf("%s after Open: %v applied %d persisted %d, want Recovered with A ≥ P", m.ID, st.State, st.Applied, st.Persisted)
				}
				if m.KV().Len() != 100 {
					t.Fatalf("%s recovered %d keys from its own disk, want 100", m.ID, m.KV().Len())
				}
			}
			for _, m := range c.Members {
				c.WaitReady(m)
				if m.Node.AppliedIndex() < lastAck {
					t.Fatalf("%s ready at %d < last acknowledged %d", m.ID, m.Node.AppliedIndex(), lastAck)
				}
				checkStartupOrder(t, m.ID, tr.states(m.ID))
			}
			waitConverged(t, c, lastAck)
		})
	}
}

func TestLoneNodeRecoversAndBecomesReadyWhenPeersReturn(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	var lastAck uint64
	for i := 0; i < 200; i++ {
		lastAck = mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("k%d", i), "v"))
	}
	waitConverged(t, c, lastAck)
	for _, m := range c.Members {
		c.Stop(m)
	}
	lone := c.Members[1]
	c.Start(lone)
	st := lone.Node.Readiness()
	if st.State != readiness.Recovered || st.Persisted < lastAck || st.Applied < st.Persisted {
		t.Fatalf("lone node after Open: %+v; want Recovered with A ≥ P ≥ %d", st, lastAck)
	}
	if got := lone.KV().Len(); got != 200 {
		t.Fatalf("lone node holds %d keys, want all 200 from its own log", got)
	}
	// Stale reads are served; Strong reads and readiness wait for a quorum.
	if err := lone.Node.Read(ctxTimeout(t, time.Second), consistency.Stale, func() error { return nil }); err != nil {
		t.Fatalf("Stale read on a recovered lone node: %v", err)
	}
	err := lone.Node.WaitReady(ctxTimeout(t, 800*time.Millisecond))
	if !errors.Is(err, raftsync.ErrNotReady) {
		t.Fatalf("WaitReady without a quorum = %v, want ErrNotReady", err)
	}
	if lone.Node.Readiness().State == readiness.Ready {
		t.Fatal("a node without a quorum reported Ready")
	}
	c.Start(c.Members[0])
	c.Start(c.Members[2])
	for _, m := range c.Members {
		c.WaitReady(m)
	}
}

func TestRecoveredGraceLetsWaitReadyReturnWithoutQuorum(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
		cfg.Readiness.RecoveredGrace = 300 * time.Millisecond
	}})
	mustApply(t, c.Leader(), testcluster.Set("k", "v"))
	for _, m := range c.Members {
		c.Stop(m)
	}
	lone := c.Members[0]
	c.Start(lone)
	if err := lone.Node.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("WaitReady with RecoveredGrace = %v, want nil after the grace", err)
	}
	if st := lone.Node.Readiness().State; st == readiness.Ready {
		t.Fatalf("state %v: without peers the node cannot be Ready", st)
	}
}

func TestRestartReplays100kEntriesBeforeOpenReturns(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100k entries")
	}
	c := testcluster.New(t, 1, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
		cfg.Snapshot.Threshold = 1 << 30 // no snapshot: everything is in the log
		cfg.Snapshot.Interval = time.Hour
		cfg.Snapshot.TrailingLogs = 1 << 30
		cfg.Snapshot.Retain = 1
	}})
	m := c.Members[0]
	const entries = 100_000
	lastAck := applyConcurrently(t, m.Node, entries, 128)
	c.Stop(m)

	start := time.Now()
	c.Start(m)
	t.Logf("reopen with %d entries in the log took %v", entries, time.Since(start))
	if got := m.KV().Len(); got != entries {
		t.Fatalf("after Open the FSM holds %d keys, want %d (replay incomplete when Open returned)", got, entries)
	}
	if st := m.Node.Readiness(); st.Applied < lastAck {
		t.Fatalf("applied %d < last acknowledged %d when Open returned", st.Applied, lastAck)
	}
	c.WaitReady(m)
	// raft re-delivers the log once it is leader; the wrapper must skip
	// every entry the FSM already holds.
	idx := mustApply(t, m, testcluster.Set("after", "restart"))
	if err := m.Node.WaitIndex(ctxTimeout(t, 30*time.Second), idx); err != nil {
		t.Fatal(err)
	}
	if d := m.KV().DoubleApplied(); len(d) > 0 {
		t.Fatalf("%d entries applied twice after restart (first %d)", len(d), d[0])
	}
	if got := m.KV().Applied(); got != entries+1 {
		t.Fatalf("FSM applied %d entries since restart, want %d replayed + 1 new", got, entries+1)
	}
}

// applyConcurrently applies n distinct sets through node with the given
// number of writers and returns the highest index acknowledged.
func applyConcurrently(t testing.TB, node *raftsync.Node, n, writers int) uint64 {
	t.Helper()
	var (
		mu       sync.Mutex
		last     uint64
		firstErr error
		wg       sync.WaitGroup
		next     atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				res, err := node.Apply(ctx, testcluster.Set(fmt.Sprintf("key-%07d", i), "value"))
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				last = max(last, res.Index)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("applying %d entries: %v", n, firstErr)
	}
	return last
}

func TestUntrustworthyRecordFallsBackToSnapshot(t *testing.T) {
	recordPath := func(m *testcluster.Member) string { return filepath.Join(m.Dir, "applied-index") }
	cases := []struct {
		name   string
		tamper func(t *testing.T, m, other *testcluster.Member, good []byte)
	}{
		{"truncated", func(t *testing.T, m, _ *testcluster.Member, good []byte) {
			os.WriteFile(recordPath(m), good[:len(good)/2], 0o600)
		}},
		{"bit flip", func(t *testing.T, m, _ *testcluster.Member, good []byte) {
			b := append([]byte(nil), good...)
			b[len(b)/2] ^= 0x10
			os.WriteFile(recordPath(m), b, 0o600)
		}},
		{"empty", func(t *testing.T, m, _ *testcluster.Member, good []byte) {
			os.WriteFile(recordPath(m), nil, 0o600)
		}},
		{"other node's record", func(t *testing.T, m, other *testcluster.Member, _ []byte) {
			b, _ := os.ReadFile(recordPath(other))
			os.WriteFile(recordPath(m), b, 0o600)
		}},
		{"other cluster", func(t *testing.T, m, _ *testcluster.Member, good []byte) {
			rec, _ := appliedrecord.Parse(good)
			rec.ClusterID = "another-cluster"
			writeRecord(t, recordPath(m), rec)
		}},
		{"ahead of the log", func(t *testing.T, m, _ *testcluster.Member, good []byte) {
			rec, _ := appliedrecord.Parse(good)
			rec.Index += 1000
			writeRecord(t, recordPath(m), rec)
		}},
		{"wrong term at index", func(t *testing.T, m, _ *testcluster.Member, good []byte) {
			rec, _ := appliedrecord.Parse(good)
			rec.Term += 7
			writeRecord(t, recordPath(m), rec)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.New(t, 3, testcluster.Options{})
			var lastAck uint64
			for i := 0; i < 30; i++ {
				lastAck = mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("k%d", i), "v"))
			}
			waitConverged(t, c, lastAck)
			for _, m := range c.Members {
				c.Stop(m)
			}
			victim, other := c.Members[1], c.Members[2]
			good, err := os.ReadFile(recordPath(victim))
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(t, victim, other, good)

			c.Start(victim)
			st := victim.Node.Readiness()
			if st.Persisted != 0 || st.Applied != 0 || victim.KV().Len() != 0 {
				t.Fatalf("tampered record was trusted: persisted %d applied %d keys %d", st.Persisted, st.Applied, victim.KV().Len())
			}
			// With the cluster back, it catches up the normal way.
			c.Start(c.Members[0])
			c.Start(other)
			c.WaitReady(victim)
			waitConverged(t, c, lastAck)
		})
	}
}

func writeRecord(t *testing.T, path string, rec appliedrecord.Record) {
	t.Helper()
	if err := appliedrecord.OpenFile(path).Store(rec); err != nil {
		t.Fatal(err)
	}
}

func TestCrashKeepsLastThrottledRecord(t *testing.T) {
	for _, ls := range logStores {
		t.Run(ls.name, func(t *testing.T) {
			c := testcluster.New(t, 3, testcluster.Options{LogStore: ls.factory, Configure: func(_ int, cfg *raftsync.Config) {
				cfg.Persist = readiness.PersistPolicy{EveryEntries: 10, Interval: time.Hour}
			}})
			f := c.Followers()[0]
			var lastAck uint64
			for i := 0; i < 25; i++ {
				lastAck = mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("k%d", i), "v"))
			}
			if err := f.Node.WaitIndex(ctxTimeout(t, 5*time.Second), lastAck); err != nil {
				t.Fatal(err)
			}
			testutil.WaitFor(t, 5*time.Second, "a throttled record", func() bool { return f.Node.Readiness().Persisted >= 10 })
			persisted := f.Node.Readiness().Persisted
			c.Crash(f)
			c.Start(f)
			st := f.Node.Readiness()
			if st.Persisted < persisted || st.Applied < st.Persisted {
				t.Fatalf("after crash: persisted %d (was %d), applied %d", st.Persisted, persisted, st.Applied)
			}
			if st.Applied > lastAck {
				t.Fatalf("applied %d beyond anything committed (%d)", st.Applied, lastAck)
			}
			c.WaitReady(f)
			waitConverged(t, c, lastAck)
		})
	}
}

func TestLeaderLossDegradesAndRecovers(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
		cfg.Readiness.LeaderLossBound = 400 * time.Millisecond
	}})
	survivor := c.Followers()[0]
	h := survivor.Node.ReadyHandler()
	probe := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	if code := probe(); code != http.StatusOK {
		t.Fatalf("ready node's probe = %d", code)
	}
	others := []*testcluster.Member{}
	for _, m := range c.Members {
		if m != survivor {
			others = append(others, m)
			c.Stop(m)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "Degraded after losing the leader", func() bool {
		return survivor.Node.Readiness().State == readiness.Degraded
	})
	if reason := survivor.Node.Readiness().Reason; reason == "" {
		t.Fatal("Degraded without a reason")
	}
	if code := probe(); code != http.StatusServiceUnavailable {
		t.Fatalf("degraded node's probe = %d, want 503", code)
	}
	for _, m := range others {
		c.Start(m)
	}
	testutil.WaitFor(t, 10*time.Second, "Ready again", func() bool {
		return survivor.Node.Readiness().State == readiness.Ready
	})
	if code := probe(); code != http.StatusOK {
		t.Fatalf("recovered node's probe = %d, want 200", code)
	}
}

func TestChangesCoalescedAcrossCatchUp(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) {
		cfg.ChangeWindow = 100 * time.Millisecond
	}})
	f := c.Followers()[0]
	applyConcurrently(t, c.Leader().Node, 10_000, 64)
	c.Stop(f)
	lastAck := applyConcurrently(t, c.Leader().Node, 200, 16)

	c.Start(f) // replays its own log inside Open, then catches up
	sub := f.Node.SubscribeChanges()
	defer sub.Close()
	var initial readiness.Change
	select {
	case initial = <-sub.C():
	case <-time.After(20 * time.Second):
		t.Fatal("no notification at Ready")
	}
	if !initial.Initial || initial.To < lastAck {
		t.Fatalf("first notification %+v; want one Initial change covering through %d", initial, lastAck)
	}
	// A burst after Ready arrives in a handful of notifications, and the
	// first of them starts where the Initial one ended: nothing was
	// delivered in between.
	start := time.Now()
	burstLast := applyConcurrently(t, c.Leader().Node, 1000, 32)
	var got []readiness.Change
	for len(got) == 0 || got[len(got)-1].To < burstLast {
		select {
		case ch := <-sub.C():
			got = append(got, ch)
		case <-time.After(20 * time.Second):
			t.Fatalf("burst not fully notified: %+v", got)
		}
	}
	if got[0].From != initial.To || got[0].Initial {
		t.Fatalf("first change after Initial %+v does not start at %d", got[0], initial.To)
	}
	windows := int(time.Since(start)/(100*time.Millisecond)) + 2
	if len(got) > windows {
		t.Fatalf("1000 writes gave %d notifications over %d windows", len(got), windows)
	}
	t.Logf("1000 writes -> %d notifications", len(got))
}
