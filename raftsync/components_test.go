package raftsync

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/internal/roundbatch"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/readiness"
)

// The decisions of the node's components, table-tested without a cluster.

func TestPersistDue(t *testing.T) {
	tests := []struct {
		name               string
		applied, persisted uint64
		cluster            string
		force, throttle    bool
		want               bool
	}{
		{"throttle due", 10, 5, "c", false, true, true},
		{"throttle not due", 10, 5, "c", false, false, false},
		{"forced by a reader", 10, 5, "c", true, false, true},
		{"nothing new", 5, 5, "c", true, true, false},
		{"applied behind persisted (restore)", 4, 5, "c", true, true, false},
		{"cluster unknown: a joining node", 10, 5, "", true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := persistDue(tt.applied, tt.persisted, tt.cluster, tt.force, tt.throttle); got != tt.want {
				t.Fatalf("persistDue(%d, %d, %q, %v, %v) = %v, want %v", tt.applied, tt.persisted, tt.cluster, tt.force, tt.throttle, got, tt.want)
			}
		})
	}
}

func TestSnapshotDue(t *testing.T) {
	const threshold = 100
	// Ready, 100 entries past the snapshot at 1000, 1 MiB applied since.
	ok := snapshotState{applied: 1100, delivered: 1100, skipThrough: 900, lastSize: 1 << 20, appliedBytes: 2 << 20, ready: true}
	const bytesAtBase = 1 << 20
	same := func(s snapshotState) snapshotState { return s }
	tests := []struct {
		name string
		s    func(snapshotState) snapshotState
		base uint64
		want bool
	}{
		{"tail reached threshold", same, 1000, true},
		{"tail short of threshold", same, 1001, false},
		{"latest snapshot too large", func(s snapshotState) snapshotState { s.lastSize = maxTriggeredSnapshotSize + 1; return s }, 1000, false},
		{"estimate at the size bound", func(s snapshotState) snapshotState { s.lastSize = maxTriggeredSnapshotSize - 1<<20; return s }, 1000, true},
		{"estimate over the bound by bytes applied since", func(s snapshotState) snapshotState {
			s.lastSize = maxTriggeredSnapshotSize - 1<<20
			s.appliedBytes++
			return s
		}, 1000, false},
		{"first snapshot of a large state", func(s snapshotState) snapshotState {
			s.lastSize = 0
			s.appliedBytes = bytesAtBase + maxTriggeredSnapshotSize + 1
			return s
		}, 1000, false},
		{"recovered entries not yet re-delivered", func(s snapshotState) snapshotState { s.skipThrough = 1101; return s }, 1000, false},
		{"catching up: tail of one threshold waits", func(s snapshotState) snapshotState { s.ready = false; return s }, 1000, false},
		{"catching up: a long tail does not wait", func(s snapshotState) snapshotState {
			s.ready = false
			s.applied = 1000 + catchUpSnapshotDefer*threshold
			s.delivered = s.applied
			return s
		}, 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := snapshotDue(tt.s(ok), tt.base, bytesAtBase, threshold); got != tt.want {
				t.Fatalf("snapshotDue = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSnapshotPause(t *testing.T) {
	tests := []struct {
		cost, want time.Duration
	}{
		{0, minTriggeredSnapshotGap},
		{10 * time.Millisecond, minTriggeredSnapshotGap},
		{time.Second, 9 * time.Second}, // a 10% duty cycle
	}
	for _, tt := range tests {
		if got := snapshotPause(tt.cost); got != tt.want {
			t.Errorf("snapshotPause(%v) = %v, want %v", tt.cost, got, tt.want)
		}
	}
}

func TestNewestSnapshotIsChosenByIndex(t *testing.T) {
	if newestSnapshot(nil) != nil {
		t.Fatal("newestSnapshot(nil) != nil")
	}
	// Listed in an order a store might use (by term, or by ID), not by index.
	metas := []*raft.SnapshotMeta{{ID: "a", Index: 50, Term: 3}, {ID: "b", Index: 90, Term: 2}, {ID: "c", Index: 70, Term: 3}}
	if got := newestSnapshot(metas); got.ID != "b" {
		t.Fatalf("newestSnapshot = %s, want b (index 90)", got.ID)
	}
}

func TestPlanRecovery(t *testing.T) {
	tests := []struct {
		name    string
		in      recoveryInput
		want    recoveryPlan
		wantErr error
	}{
		{name: "empty Dir", in: recoveryInput{}, want: recoveryPlan{}},
		{name: "snapshot and a persisted tail",
			in:   recoveryInput{newestSnapshot: 100, lastLog: 150, persisted: 140},
			want: recoveryPlan{restore: true, target: 140, delivered: 100}},
		{name: "record covered by the snapshot",
			in:   recoveryInput{newestSnapshot: 100, lastLog: 150, persisted: 80},
			want: recoveryPlan{restore: true, target: 100, delivered: 100}},
		{name: "no record: the snapshot only",
			in:   recoveryInput{newestSnapshot: 100, lastLog: 150},
			want: recoveryPlan{restore: true, target: 100, delivered: 100}},
		{name: "no snapshot: replay the log to the record",
			in:   recoveryInput{lastLog: 150, persisted: 120},
			want: recoveryPlan{target: 120}},
		{name: "durable FSM ahead of the snapshot keeps its state",
			in:   recoveryInput{newestSnapshot: 100, lastLog: 150, persisted: 140, durable: true, durableIndex: 130},
			want: recoveryPlan{base: 130, target: 140, delivered: 100}},
		{name: "durable FSM at the snapshot keeps its state",
			in:   recoveryInput{newestSnapshot: 100, lastLog: 150, durable: true, durableIndex: 100},
			want: recoveryPlan{base: 100, target: 100, delivered: 100}},
		{name: "durable FSM behind the snapshot restores it",
			in:   recoveryInput{newestSnapshot: 100, lastLog: 150, durable: true, durableIndex: 60},
			want: recoveryPlan{base: 60, restore: true, target: 100, delivered: 100}},
		{name: "durable FSM behind the snapshot, the log bridges the gap",
			in:   recoveryInput{newestSnapshot: 100, firstLog: 40, lastLog: 150, logHoldsSnapshot: true, durable: true, durableIndex: 98},
			want: recoveryPlan{base: 98, target: 100, delivered: 100}},
		{name: "durable FSM behind the snapshot, the log lacks the snapshot's term",
			in:   recoveryInput{newestSnapshot: 100, firstLog: 40, lastLog: 150, durable: true, durableIndex: 98},
			want: recoveryPlan{base: 98, restore: true, target: 100, delivered: 100}},
		{name: "durable FSM behind the snapshot, the log starts after it",
			in:   recoveryInput{newestSnapshot: 100, firstLog: 99, lastLog: 150, logHoldsSnapshot: true, durable: true, durableIndex: 97},
			want: recoveryPlan{base: 97, restore: true, target: 100, delivered: 100}},
		{name: "durable FSM too far behind the snapshot to bridge",
			in:   recoveryInput{newestSnapshot: 5000, firstLog: 1, lastLog: 5000, logHoldsSnapshot: true, durable: true, durableIndex: 5000 - bridgeMax - 1},
			want: recoveryPlan{base: 5000 - bridgeMax - 1, restore: true, target: 5000, delivered: 5000}},
		{name: "durable FSM ahead of the record needs no replay",
			in:   recoveryInput{lastLog: 150, persisted: 120, durable: true, durableIndex: 150},
			want: recoveryPlan{base: 150, target: 120}},
		{name: "durable FSM covered only by the snapshot",
			in:   recoveryInput{newestSnapshot: 200, lastLog: 150, durable: true, durableIndex: 180},
			want: recoveryPlan{base: 180, restore: true, target: 200, delivered: 200}},
		{name: "durable FSM beyond the log and every snapshot",
			in:      recoveryInput{newestSnapshot: 100, lastLog: 150, durable: true, durableIndex: 151},
			wantErr: errDurableAhead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planRecovery(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("planRecovery error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("planRecovery(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestTrustRecord(t *testing.T) {
	rec := func(index, term uint64) appliedrecord.Record {
		return appliedrecord.Record{NodeID: "n1", ClusterID: "c1", Index: index, Term: term}
	}
	tests := []struct {
		name                               string
		rec                                appliedrecord.Record
		node, cluster                      string
		newestSnapshot, lastLog, logTermAt uint64
		trusted                            bool
	}{
		{"in the log with its term", rec(120, 3), "n1", "c1", 100, 150, 3, true},
		{"covered by the snapshot, not in the log", rec(90, 2), "n1", "c1", 100, 150, 0, true},
		{"at the snapshot's index", rec(100, 2), "n1", "c1", 100, 150, 0, true},
		{"another node's", rec(120, 3), "n2", "c1", 100, 150, 3, false},
		{"another cluster's", rec(120, 3), "n1", "c2", 100, 150, 3, false},
		{"ahead of the log", rec(151, 3), "n1", "c1", 100, 150, 0, false},
		{"missing from the log", rec(120, 3), "n1", "c1", 100, 150, 0, false},
		{"another term in the log", rec(120, 3), "n1", "c1", 100, 150, 4, false},
		{"no snapshot, in the log", rec(20, 1), "n1", "c1", 0, 150, 1, true},
		{"no snapshot, missing from the log", rec(20, 1), "n1", "c1", 0, 150, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := trustRecord(tt.rec, tt.node, tt.cluster, tt.newestSnapshot, tt.lastLog, tt.logTermAt)
			if (err == nil) != tt.trusted {
				t.Fatalf("trustRecord = %v, want trusted %v", err, tt.trusted)
			}
		})
	}
}

func TestChooseClusterID(t *testing.T) {
	generated := func() (string, error) { return "fresh", nil }
	failing := func() (string, error) { return "", errors.New("no entropy") }
	tests := []struct {
		name               string
		stored, configured string
		bootstrap          bool
		gen                func() (string, error)
		want               string
		wantErr            error
	}{
		{"stored wins over empty Config", "s", "", false, generated, "s", nil},
		{"stored matches Config", "s", "s", true, generated, "s", nil},
		{"stored differs from Config", "s", "c", false, generated, "", ErrClusterMismatch},
		{"bootstrap without either generates", "", "", true, generated, "fresh", nil},
		{"bootstrap pins Config's", "", "c", true, generated, "c", nil},
		{"join learns it later", "", "", false, generated, "", nil},
		{"join pins Config's", "", "c", false, generated, "c", nil},
		{"generation fails", "", "", true, failing, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseClusterID(tt.stored, tt.configured, tt.bootstrap, tt.gen)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("chooseClusterID error = %v, want %v", err, tt.wantErr)
			}
			if tt.name == "generation fails" {
				if err == nil {
					t.Fatal("chooseClusterID hid the generator's error")
				}
				return
			}
			if tt.wantErr == nil && err != nil {
				t.Fatalf("chooseClusterID error = %v", err)
			}
			if got != tt.want {
				t.Fatalf("chooseClusterID = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPersisterWritesOnDemandAndAtFinal runs the persister alone, on a real
// record file and a fake clock: a reader's waitCovers forces a write the
// throttle would not make yet, and final records the last applied index.
func TestPersisterWritesOnDemandAndAtFinal(t *testing.T) {
	logs := raft.NewInmemStore()
	if err := logs.StoreLogs([]*raft.Log{{Index: 1, Term: 1}, {Index: 2, Term: 1}, {Index: 3, Term: 2}}); err != nil {
		t.Fatal(err)
	}
	var pos atomic.Pointer[appliedPosition]
	pos.Store(&appliedPosition{index: 2, term: 1})
	file := &recordStore{s: recordFile{f: appliedrecord.OpenFile(filepath.Join(t.TempDir(), recordFileName))}}
	p := newPersister(persisterDeps{
		file:      file,
		policy:    readiness.PersistPolicy{EveryEntries: 1000, Interval: time.Hour},
		clock:     clock.NewFake(time.Unix(0, 0)),
		position:  func() (uint64, uint64) { v := pos.Load(); return v.index, v.term },
		logs:      logs,
		nodeID:    "n1",
		clusterID: func() string { return "c1" },
		logger:    hclog.NewNullLogger(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	p.start(ctx, &wg, 0)

	p.notifyApplied(2) // not due: two entries of 1000, no time elapsed
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := p.waitCovers(wctx, 2); err != nil {
		t.Fatalf("waitCovers: %v", err)
	}
	if got, err := file.Load(); err != nil || got.Index != 2 || got.Term != 1 {
		t.Fatalf("record after waitCovers = %+v, %v; want index 2 term 1", got, err)
	}

	pos.Store(&appliedPosition{index: 3, term: 2})
	cancel()
	wg.Wait()
	if err := p.final(); err != nil {
		t.Fatalf("final: %v", err)
	}
	if got, err := file.Load(); err != nil || got.Index != 3 || got.Term != 2 || got.NodeID != "n1" || got.ClusterID != "c1" {
		t.Fatalf("record after final = %+v, %v; want n1/c1 index 3 term 2", got, err)
	}
}

// TestSnapshotTriggerTakesAtThreshold runs the trigger alone with a fake
// raft: it asks for a snapshot once the tail reaches the threshold, learns
// the snapshot's index, and asks no more while the tail is short.
func TestSnapshotTriggerTakesAtThreshold(t *testing.T) {
	var applied atomic.Uint64
	takes := make(chan uint64, 10)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	tr := newSnapshotTrigger(snapshotTriggerDeps{
		threshold: 10,
		take: func(context.Context) (uint64, error) {
			i := applied.Load()
			takes <- i
			return i, nil
		},
		list:   func() ([]*raft.SnapshotMeta, error) { return []*raft.SnapshotMeta{{Index: 5}}, nil },
		state:  func() snapshotState { return snapshotState{applied: applied.Load(), ready: true} },
		ctx:    ctx,
		wg:     &wg,
		logger: hclog.NewNullLogger(),
	})
	if tr.base.Load() != 5 {
		t.Fatalf("base = %d, want the listed snapshot's 5", tr.base.Load())
	}
	applied.Store(14)
	tr.applied(14) // 9 past the snapshot
	applied.Store(15)
	tr.applied(15)
	select {
	case i := <-takes:
		if i != 15 {
			t.Fatalf("snapshot taken at %d, want 15", i)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot at the threshold")
	}
	testutil.WaitFor(t, 10*time.Second, "the trigger to settle at base 15", func() bool {
		return !tr.running.Load() && tr.base.Load() == 15
	})
	applied.Store(20)
	tr.applied(20)
	if tr.running.Load() {
		t.Fatal("trigger started a snapshot for a tail of 5")
	}
	select {
	case i := <-takes:
		t.Fatalf("unexpected snapshot at %d", i)
	default:
	}
}

// TestTransferGate: the leader confirms a transfer only in the term it
// began it and until it ends, voids the lease with every yes, and runs one
// transfer at a time.
func TestTransferGate(t *testing.T) {
	var g transferGate
	voids := 0
	void := func() { voids++ }
	if g.confirm(3, void) {
		t.Fatal("confirmed with no transfer begun")
	}
	if !g.begin(3) {
		t.Fatal("begin refused with no transfer running")
	}
	if g.begin(3) {
		t.Fatal("a second transfer began while one runs")
	}
	if g.confirm(4, void) || voids != 0 {
		t.Fatal("confirmed a transfer of another term")
	}
	if !g.confirm(3, void) || voids != 1 {
		t.Fatalf("confirm in the transfer's term: voids = %d, want 1", voids)
	}
	g.end()
	if g.confirm(3, void) || voids != 1 {
		t.Fatal("confirmed after the transfer ended")
	}
	if !g.begin(5) {
		t.Fatal("begin refused after the last transfer ended")
	}
}

// TestMembershipNoticeHolds: a leader's removal notice holds the node
// removed only while its own log is short of the removing entry.
func TestMembershipNoticeHolds(t *testing.T) {
	tests := []struct {
		name        string
		index, last uint64
		holds       bool
	}{
		{"log short of the entry", 10, 9, true},
		{"log at the entry: own configuration decides", 10, 10, false},
		{"log past the entry", 10, 12, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m membership
			if got := m.noticeHolds(tt.index, tt.last); got != tt.holds {
				t.Fatalf("noticeHolds(%d, %d) = %v, want %v", tt.index, tt.last, got, tt.holds)
			}
			if m.removed.Load() != tt.holds || m.wasMember.Load() != tt.holds {
				t.Fatalf("removed = %v, wasMember = %v; want both %v", m.removed.Load(), m.wasMember.Load(), tt.holds)
			}
		})
	}
}

// TestLeadershipCloseRoundsToleratesAPartialOpen: shutdown after a failed
// Open closes whichever batchers exist.
func TestLeadershipCloseRoundsToleratesAPartialOpen(t *testing.T) {
	var l leadership
	l.closeRounds() // none made
	l.leaderRounds = roundbatch.New(func(context.Context) (uint64, error) { return 1, nil }, roundbatch.Options{})
	l.closeRounds()
	if _, err := l.leaderRounds.Do(context.Background()); !errors.Is(err, roundbatch.ErrClosed) {
		t.Fatal("a closed batcher still ran a round")
	}
}

// TestPersisterWritesOnTheInterval: with fewer than EveryEntries applied,
// the persister writes once Interval has passed on its clock, and not
// before.
func TestPersisterWritesOnTheInterval(t *testing.T) {
	logs := raft.NewInmemStore()
	if err := logs.StoreLog(&raft.Log{Index: 4, Term: 1}); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Unix(0, 0))
	file := &recordStore{s: recordFile{f: appliedrecord.OpenFile(filepath.Join(t.TempDir(), recordFileName))}}
	p := newPersister(persisterDeps{
		file:      file,
		policy:    readiness.PersistPolicy{EveryEntries: 1000, Interval: time.Second},
		clock:     clk,
		position:  func() (uint64, uint64) { return 4, 1 },
		logs:      logs,
		nodeID:    "n1",
		clusterID: func() string { return "c1" },
		logger:    hclog.NewNullLogger(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	p.start(ctx, &wg, 0)

	p.notifyApplied(4) // below EveryEntries: no nudge
	// The Interval timer is set by the persister's goroutine: wait for it.
	testutil.WaitFor(t, 10*time.Second, "the persister's Interval timer", func() bool { return clk.Pending() != 0 })
	clk.Advance(999 * time.Millisecond)
	if p.store(false) || p.index() != 0 {
		t.Fatal("persisted before Interval passed")
	}
	clk.Advance(time.Millisecond) // the persister's own timer fires
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := p.persisted.Wait(wctx, 4); err != nil {
		t.Fatalf("no write once Interval passed: %v", err)
	}
	if got, err := file.Load(); err != nil || got.Index != 4 {
		t.Fatalf("record = %+v, %v; want index 4", got, err)
	}
}
