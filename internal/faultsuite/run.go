package faultsuite

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/internal/faultnet"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
)

// Options tune how a schedule is run; the schedule itself says what runs.
type Options struct {
	// Replay is the shell command that runs the same schedule again. It is
	// printed with every violation. Default: ReplayCommand(seed).
	Replay string
	// OutDir, when set, receives a porcupine visualization (HTML) of a
	// history that is not linearizable.
	OutDir string
	// LinearizabilityTimeout bounds the porcupine check. Default 60s; a
	// check that runs out is reported as inconclusive, not as a pass.
	LinearizabilityTimeout time.Duration
	// RecoveryTimeout bounds the wait, after the faults end, for a leader,
	// a final write and every member Ready. Default 60s.
	RecoveryTimeout time.Duration
}

// ReplayCommand returns the command that replays the schedule of seed.
func ReplayCommand(seed int64) string {
	return fmt.Sprintf("go test -race -count=1 -run '^TestReplay$' ./internal/faultsuite -faultsuite.seed=%d -v", seed)
}

// slot is the node a member runs now, for the clients. It is replaced at
// each restart and nil while the member is down.
type slot struct {
	node *raftsync.Node
	fsm  *FSM
	inc  int
}

// run is one execution of a schedule.
type run struct {
	t     testing.TB
	s     Schedule
	opts  Options
	net   *faultnet.Network
	c     *testcluster.Cluster
	disks []*Disk
	slots []atomic.Pointer[slot]
	hist  *History
	ready *readinessLog
	logs  *logRing

	mu        sync.Mutex
	out       []bool        // per member: not in the cluster on purpose (a spare not added, a member removed)
	incs      []int         // current incarnation per member
	stops     [][]string    // per member: how each ended incarnation ended ("crash", "clean", "removed" or "hung")
	downAt    []time.Time   // when a down member went down
	removedAt []time.Time   // when a removed member's removal was confirmed
	cutOff    []bool        // per removed member: cut off by a fault at its removal or its end (removedBound)
	faults    map[Kind]int  // faults injected
	notes     []string      // what the executor did, in order
	viol      []Violation   // found while running (read-your-writes, restarts)
	ryw       atomic.Uint64 // read-your-writes checks done

	healedAt time.Time // when every fault was lifted

	bg sync.WaitGroup // transfers and backups the executor started
}

// Run executes schedule s on a fresh cluster, checks the outcome and
// returns what it found. Each violation is also reported with t.Errorf,
// with the seed, the replay command and the schedule. Run blocks for the
// whole run (about the schedule's Window plus 5 to 15 seconds) and must be
// called from the test's goroutine.
func Run(t testing.TB, s Schedule, opts Options) Result {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if opts.Replay == "" {
		opts.Replay = ReplayCommand(s.Seed)
	}
	if opts.LinearizabilityTimeout <= 0 {
		opts.LinearizabilityTimeout = 60 * time.Second
	}
	if opts.RecoveryTimeout <= 0 {
		opts.RecoveryTimeout = 60 * time.Second
	}
	started := time.Now()
	r := &run{
		t:         t,
		s:         s,
		opts:      opts,
		net:       faultnet.NewSeeded(s.Seed),
		hist:      NewHistory(),
		ready:     &readinessLog{},
		logs:      newLogRing(2000),
		slots:     make([]atomic.Pointer[slot], s.Total()),
		out:       make([]bool, s.Total()),
		incs:      make([]int, s.Total()),
		stops:     make([][]string, s.Total()),
		downAt:    make([]time.Time, s.Total()),
		removedAt: make([]time.Time, s.Total()),
		cutOff:    make([]bool, s.Total()),
		faults:    map[Kind]int{},
	}
	for i := s.Members(); i < s.Total(); i++ {
		r.out[i] = true // a spare, until a Join adds it
	}
	t.Cleanup(r.net.Close) // after the cluster's Close, registered later
	for i := range s.Total() {
		r.disks = append(r.disks, NewDisk(s.Seed*31+int64(i)))
	}
	r.start()
	stop := make(chan struct{})
	var clients sync.WaitGroup
	r.startClients(stop, &clients)
	r.execute()
	r.bg.Wait() // transfers and backups still running
	r.heal()
	r.settle(stop, &clients)
	final := r.recover()
	res := r.check(final)
	r.shutdown()
	res.Violations = r.lateViolations(res.Violations)
	res.Duration = time.Since(started)
	r.report(&res)
	return res
}

// start forms the cluster. Every member's stores go through its Disk, its
// readiness changes into the log, its connections through the Network.
func (r *run) start() {
	s := r.s
	clocks := make([]clock.Clock, s.Total())
	for i := range clocks {
		if rate := s.Rate(i); rate != 1 {
			clocks[i] = clock.NewRate(rate)
		}
	}
	r.c = testcluster.New(r.t, s.Members(), testcluster.Options{
		Network:   r.net,
		NonVoters: s.NonVoters,
		Spares:    s.Spares,
		NewFSM:    func(int) raft.FSM { return NewFSM() },
		Configure: func(i int, cfg *raftsync.Config) {
			r.disks[i].Install(cfg)
			if clocks[i] != nil {
				cfg.Clock = nodeClock{clocks[i]}
			}
			cfg.Logger = r.logs.logger(cfg.ID)
			cfg.ReadFence = s.ReadFence
			cfg.Persist = readiness.PersistPolicy{EveryEntries: s.PersistEvery, Interval: s.PersistInterval}
			if s.SnapshotThreshold > 0 {
				cfg.Snapshot = snapshot.Policy{Threshold: s.SnapshotThreshold, Interval: 100 * time.Millisecond,
					TrailingLogs: s.SnapshotThreshold / 2, Retain: 2}
			}
			cfg.OnReadinessChange = func(_, now readiness.Status) { r.ready.add(i, now) }
		},
	})
	for i, m := range r.c.Members[:s.Members()] {
		r.slots[i].Store(&slot{node: m.Node, fsm: m.FSM.(*FSM)})
	}
}

func (r *run) name(i int) string { return r.c.Members[i].ID }

func (r *run) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf("%8v ", time.Duration(r.hist.Now()).Round(time.Millisecond))+fmt.Sprintf(format, args...))
}

func (r *run) violation(kind, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.viol = append(r.viol, Violation{Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// stopMember takes member i down, by crash or clean close.
func (r *run) stopMember(i int, crash bool) bool {
	sl := r.slots[i].Swap(nil)
	if sl == nil {
		return false
	}
	m := r.c.Members[i]
	how := "clean"
	if crash {
		how = "crash"
	}
	if !r.bounded(fmt.Sprintf("%s of %s", how, m.ID), func() {
		if crash {
			r.c.Crash(m)
		} else {
			r.c.Stop(m)
		}
	}) {
		// The node is stuck in its shutdown; it is not coming back.
		r.mu.Lock()
		r.stops[i] = append(r.stops[i], "hung")
		r.downAt[i] = time.Now()
		r.mu.Unlock()
		return true
	}
	r.mu.Lock()
	r.stops[i] = append(r.stops[i], how)
	r.downAt[i] = time.Now()
	r.mu.Unlock()
	r.note("%s %s (incarnation %d)", how, m.ID, sl.inc)
	return true
}

// closeTimeout bounds a node's Close or crash. Close is documented as
// bounded; one that has not returned after this long is hung.
const closeTimeout = 30 * time.Second

// bounded runs stop (a Close or a crash) and reports whether it returned
// within closeTimeout. When it did not, it records a close-hung violation
// with the goroutines that look stuck, and leaves stop running: testcluster
// has already forgotten the node, so the test's cleanup does not wait on it.
func (r *run) bounded(what string, stop func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop()
	}()
	select {
	case <-done:
		return true
	case <-time.After(closeTimeout):
	}
	r.violation("close-hung", "%s did not return within %v; goroutines in raft and raftsync:\n%s", what, closeTimeout, stuckGoroutines())
	return false
}

// shutdown stops every running member cleanly, each bounded, so that a
// hung node is reported as a violation instead of hanging the test.
func (r *run) shutdown() {
	for i := range r.slots {
		if r.slots[i].Load() != nil {
			r.stopMember(i, false)
		}
	}
}

// startMember brings member i back from its Dir, no sooner than
// MinDowntime after it went down. It reports whether the member runs; a
// member out of the cluster on purpose (a spare, a removed member) is not
// started and counts as running.
func (r *run) startMember(i int) bool { return r.startMemberAfter(i, MinDowntime) }

// startMemberAfter is startMember with the least downtime given.
func (r *run) startMemberAfter(i int, minDown time.Duration) bool {
	if r.slots[i].Load() != nil {
		return true
	}
	r.mu.Lock()
	hung := len(r.stops[i]) > 0 && r.stops[i][len(r.stops[i])-1] == "hung"
	wait := time.Until(r.downAt[i].Add(minDown))
	out := r.out[i]
	r.mu.Unlock()
	if out {
		return true
	}
	if hung {
		return false
	}
	if wait > 0 {
		<-time.After(wait) // the lease's assumption, not a synchronization
	}
	m := r.c.Members[i]
	if err := r.c.TryStart(m); err != nil {
		r.note("restart of %s failed: %v", m.ID, err)
		return false
	}
	r.mu.Lock()
	r.incs[i]++
	inc := r.incs[i]
	r.mu.Unlock()
	r.slots[i].Store(&slot{node: m.Node, fsm: m.FSM.(*FSM), inc: inc})
	r.note("started %s (incarnation %d)", m.ID, inc)
	return true
}

// leader returns the member that leads in the highest term, or -1.
func (r *run) leader() int {
	best, bestTerm := -1, uint64(0)
	for i := range r.slots {
		sl := r.slots[i].Load()
		if sl == nil || sl.node.State() != raft.Leader {
			continue
		}
		if term := sl.node.Raft().CurrentTerm(); best < 0 || term > bestTerm {
			best, bestTerm = i, term
		}
	}
	return best
}

// statuses describes every member, for failure reports.
func (r *run) statuses() string {
	var b strings.Builder
	for i := range r.slots {
		sl := r.slots[i].Load()
		if sl == nil {
			fmt.Fprintf(&b, "  %s: down\n", r.name(i))
			continue
		}
		st := sl.node.Status()
		fmt.Fprintf(&b, "  %s: %s term=%d leader=%q commit=%d applied=%d persisted=%d last=%d readiness=%s (%s)\n",
			st.ID, st.State, st.Term, st.LeaderID, st.CommitIndex, st.AppliedIndex, st.PersistedIndex, st.LastIndex,
			st.Readiness.State, st.Readiness.Reason)
	}
	return b.String()
}

// lateViolations adds to vs the violations recorded after check ran (a
// hung Close in shutdown).
func (r *run) lateViolations(vs []Violation) []Violation {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[Violation]bool{}
	for _, v := range vs {
		seen[v] = true
	}
	for _, v := range r.viol {
		if !seen[v] {
			vs = append(vs, v)
		}
	}
	return vs
}

// stuckGoroutines returns the stacks of goroutines that run raft, the
// node or the fault network, from a dump of all goroutines.
func stuckGoroutines() string {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var keep []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "hashicorp/raft.") || strings.Contains(g, "raftsync.") {
			keep = append(keep, g)
		}
	}
	out := strings.Join(keep, "\n\n")
	if len(out) > 20000 {
		out = out[:20000] + "\n... (truncated)"
	}
	return out
}
