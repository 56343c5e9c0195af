package raftsync

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/readiness"
)

// Metrics is a point-in-time copy of a node's counters and gauges, for an
// exporter to publish (package promexport turns it into Prometheus series)
// or a test to read. Counters start at zero when the node opens and only
// grow; gauges are the value at the time of the call. Fields are read from
// several sources without a common lock, so they may be a few entries apart.
type Metrics struct {
	NodeID, ClusterID string

	// Readiness is the current readiness state; Transitions counts, per
	// state, how often the node entered it since Open (indexed by
	// readiness.State). TimeToReady is the time from Open to the first
	// Ready, zero until then.
	Readiness   readiness.State
	Transitions [readiness.Removed + 1]uint64
	TimeToReady time.Duration

	// IsLeader: raft's role is Leader. Term is raft's current term.
	IsLeader bool
	Term     uint64
	// AppliedIndex, PersistedIndex, CommitIndex and LastIndex as in
	// Status. ApplyLag is CommitIndex − AppliedIndex and PersistLag is
	// AppliedIndex − PersistedIndex, zero when negative.
	AppliedIndex, PersistedIndex, CommitIndex, LastIndex uint64
	ApplyLag, PersistLag                                 uint64
	// LastContact is how long ago a follower last heard from the leader;
	// zero on the leader and before any contact.
	LastContact time.Duration

	// Reads counts ReadIndex calls (Read included), per consistency level
	// (indexed by consistency.Level), and ReadErrors those that failed.
	Reads, ReadErrors [consistency.Stale + 1]uint64
	// LeaseHits and LeaseMisses count, on the leader and per level, the
	// reads served from a valid lease without a round, and those that
	// needed a quorum round. Only Lease reads use the lease.
	LeaseHits, LeaseMisses [consistency.Stale + 1]uint64
	// RoundsConfirmed and RoundsFailed count the leader's quorum rounds
	// (one round serves a batch of Strong and Lease reads). RoundsVouched
	// counts the followers' Strong read-index requests the leader answered
	// without a round, the follower's own voucher standing in for it.
	RoundsConfirmed, RoundsFailed, RoundsVouched uint64
	// ForwardedReads and ForwardedReadErrors count, per level, the read
	// index requests a follower sent to the leader (one serves a batch).
	ForwardedReads, ForwardedReadErrors [consistency.Stale + 1]uint64

	// ForwardedWrites counts Apply calls this node forwarded to the
	// leader, by outcome (indexed by WriteOutcome).
	ForwardedWrites [numWriteOutcomes]uint64

	// Snapshot persists (a snapshot written to the local store) and
	// restores (one installed from the leader or a restored backup), with
	// backups written and restores started through Node.Restore.
	SnapshotPersist, SnapshotRestore Timing
	Backup, BackupRestore            Timing

	// Rejected counts incoming connections the listener closed before
	// handing them to raft or the RPC server, by reason (indexed by
	// RejectReason).
	Rejected [NumRejectReasons]uint64

	// Autopilot's last evaluation on the leader (AutopilotKnown false
	// elsewhere, and before the first), and the dead members it removed.
	AutopilotKnown            bool
	AutopilotHealthy          bool
	AutopilotFailureTolerance int
	DeadServersRemoved        uint64
}

// Timing sums an operation's durations and sizes: Count operations that
// succeeded, taking Seconds and moving Bytes in all, and Failures that did
// not (excluded from the sums).
type Timing struct {
	Count, Failures uint64
	Seconds         float64
	Bytes           uint64
}

// WriteOutcome is what became of a forwarded write.
type WriteOutcome int

// The outcomes of a forwarded write, as Metrics.ForwardedWrites counts them.
const (
	// WriteApplied: the leader applied it and answered.
	WriteApplied WriteOutcome = iota
	// WriteFSMError: applied, and the application's FSM returned an error.
	WriteFSMError
	// WriteNotSent: the request never reached a leader (it is retried
	// against the next one when ctx allows).
	WriteNotSent
	// WriteRefused: the leader refused it before raft's log (not the
	// leader, too large, enqueue timeout).
	WriteRefused
	// WriteIndeterminate: the outcome is unknown (ErrIndeterminate or
	// ErrCommittedNoResponse).
	WriteIndeterminate
	numWriteOutcomes
)

var writeOutcomeNames = [numWriteOutcomes]string{"applied", "fsm_error", "not_sent", "refused", "indeterminate"}

// String returns the outcome's label value ("applied", "not_sent", ...).
func (o WriteOutcome) String() string {
	if o >= 0 && o < numWriteOutcomes {
		return writeOutcomeNames[o]
	}
	return "unknown"
}

// WriteOutcomes returns every WriteOutcome, in order.
func WriteOutcomes() []WriteOutcome {
	out := make([]WriteOutcome, numWriteOutcomes)
	for i := range out {
		out[i] = WriteOutcome(i)
	}
	return out
}

// RejectReason is why the listener closed an incoming connection.
type RejectReason = mux.RejectReason

// NumRejectReasons is the number of RejectReason values, 0 to
// NumRejectReasons-1; RejectReason.String names each.
const NumRejectReasons = mux.NumRejectReasons

// Metrics returns a snapshot of the node's counters and gauges. It never
// blocks on the network or on raft's main loop, so an exporter may call it
// on every scrape; after Close it still answers, with the final counts.
func (n *Node) Metrics() Metrics {
	s := &n.stats
	st := n.monitor.tracker.Status()
	m := Metrics{
		NodeID:         n.cfg.ID,
		ClusterID:      n.ClusterID(),
		Readiness:      st.State,
		AppliedIndex:   n.fsm.applied.Index(),
		PersistedIndex: n.persist.index(),
	}
	for i := range m.Transitions {
		m.Transitions[i] = s.transitions[i].Load()
	}
	m.TimeToReady = time.Duration(s.timeToReady.Load())
	if r := n.raft; r != nil {
		m.IsLeader = r.State() == raft.Leader
		m.Term = r.CurrentTerm()
		m.CommitIndex = r.CommitIndex()
		m.LastIndex = r.LastIndex()
		if lc := r.LastContact(); !m.IsLeader && !lc.IsZero() {
			m.LastContact = max(time.Since(lc), 0)
		}
	}
	if m.CommitIndex > m.AppliedIndex {
		m.ApplyLag = m.CommitIndex - m.AppliedIndex
	}
	if m.AppliedIndex > m.PersistedIndex {
		m.PersistLag = m.AppliedIndex - m.PersistedIndex
	}
	for l := range m.Reads {
		m.Reads[l] = s.reads[l].Load()
		m.ReadErrors[l] = s.readErrors[l].Load()
		m.LeaseHits[l] = s.leaseHits[l].Load()
		m.LeaseMisses[l] = s.leaseMisses[l].Load()
		m.ForwardedReads[l] = s.forwardedReads[l].Load()
		m.ForwardedReadErrors[l] = s.forwardedReadErrors[l].Load()
	}
	m.RoundsConfirmed = s.roundsConfirmed.Load()
	m.RoundsFailed = s.roundsFailed.Load()
	m.RoundsVouched = s.roundsVouched.Load()
	for i := range m.ForwardedWrites {
		m.ForwardedWrites[i] = s.forwardedWrites[i].Load()
	}
	m.SnapshotPersist = s.snapshotPersist.load()
	m.SnapshotRestore = s.snapshotRestore.load()
	m.Backup = s.backup.load()
	m.BackupRestore = s.backupRestore.load()
	if n.net.mux != nil {
		m.Rejected = n.net.mux.Rejected()
	}
	if h := s.autopilot.Load(); h != nil {
		m.AutopilotKnown = true
		m.AutopilotHealthy = h.healthy
		m.AutopilotFailureTolerance = h.failureTolerance
	}
	m.DeadServersRemoved = s.deadServersRemoved.Load()
	return m
}

// nodeStats holds the counters behind Node.Metrics. Every method is safe
// for concurrent use and never blocks.
type nodeStats struct {
	transitions [readiness.Removed + 1]atomic.Uint64
	timeToReady atomic.Int64 // nanoseconds

	reads, readErrors                [consistency.Stale + 1]atomic.Uint64
	leaseHits, leaseMisses           [consistency.Stale + 1]atomic.Uint64
	forwardedReads                   [consistency.Stale + 1]atomic.Uint64
	forwardedReadErrors              [consistency.Stale + 1]atomic.Uint64
	roundsConfirmed, roundsFailed    atomic.Uint64
	roundsVouched                    atomic.Uint64
	forwardedWrites                  [numWriteOutcomes]atomic.Uint64
	snapshotPersist, snapshotRestore timing
	backup, backupRestore            timing
	autopilot                        atomic.Pointer[autopilotGauges]
	deadServersRemoved               atomic.Uint64
}

type autopilotGauges struct {
	healthy          bool
	failureTolerance int
}

// readinessChanged counts readiness transitions and the time to the first
// Ready, measured from opened.
func (s *nodeStats) readinessChanged(opened time.Time, old, now readiness.Status) {
	if now.State != old.State && now.State >= 0 && int(now.State) < len(s.transitions) {
		s.transitions[now.State].Add(1)
	}
	if now.State == readiness.Ready && old.ReadyAt.IsZero() {
		s.timeToReady.CompareAndSwap(0, int64(max(time.Since(opened), 1)))
	}
}

// read records the end of one ReadIndex call at level.
func (s *nodeStats) read(level consistency.Level, err error) {
	if !level.Valid() {
		return
	}
	s.reads[level].Add(1)
	if err != nil {
		s.readErrors[level].Add(1)
	}
}

// lease records whether a read at level on the leader was served from the
// lease (hit) or needed a round (miss).
func (s *nodeStats) lease(level consistency.Level, hit bool) {
	if !level.Valid() {
		return
	}
	if hit {
		s.leaseHits[level].Add(1)
	} else {
		s.leaseMisses[level].Add(1)
	}
}

// round records one leader quorum round.
func (s *nodeStats) round(err error) {
	if err != nil {
		s.roundsFailed.Add(1)
	} else {
		s.roundsConfirmed.Add(1)
	}
}

// forwardedRead records one read index request sent to the leader.
func (s *nodeStats) forwardedRead(level consistency.Level, err error) {
	if !level.Valid() {
		return
	}
	s.forwardedReads[level].Add(1)
	if err != nil {
		s.forwardedReadErrors[level].Add(1)
	}
}

// forwardedWrite records the outcome of one forwarded Apply.
func (s *nodeStats) forwardedWrite(err error) {
	s.forwardedWrites[classifyForwardedWrite(err)].Add(1)
}

// classifyForwardedWrite maps forwardApply's error to its outcome.
func classifyForwardedWrite(err error) WriteOutcome {
	var ae *ApplyError
	switch {
	case err == nil:
		return WriteApplied
	case errors.As(err, &ae):
		return WriteFSMError
	case errors.Is(err, ErrIndeterminate), errors.Is(err, ErrCommittedNoResponse):
		return WriteIndeterminate
	case errors.Is(err, rpc.ErrNotSent):
		return WriteNotSent
	default:
		return WriteRefused
	}
}

func (s *nodeStats) setAutopilot(healthy bool, failureTolerance int) {
	s.autopilot.Store(&autopilotGauges{healthy: healthy, failureTolerance: failureTolerance})
}

// timing accumulates a Timing. The fields are updated one by one, so a
// concurrent load may see an operation counted before its duration.
type timing struct {
	count, failures, bytes atomic.Uint64
	nanos                  atomic.Int64
}

// done records one operation that started at start, moved bytes and ended
// with err.
func (t *timing) done(start time.Time, bytes int64, err error) {
	if t == nil {
		return
	}
	if err != nil {
		t.failures.Add(1)
		return
	}
	t.nanos.Add(int64(time.Since(start)))
	if bytes > 0 {
		t.bytes.Add(uint64(bytes))
	}
	t.count.Add(1)
}

func (t *timing) load() Timing {
	return Timing{
		Count:    t.count.Load(),
		Failures: t.failures.Load(),
		Seconds:  time.Duration(t.nanos.Load()).Seconds(),
		Bytes:    t.bytes.Load(),
	}
}
