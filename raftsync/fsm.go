package raftsync

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/indexwait"
	"github.com/raftkit/raftkit/snapshot"
)

// DurableFSM is implemented by an application FSM that persists its own
// state (in bbolt, SQLite, ...) and records, in the same atomic write as the
// data, the index of the last log entry it applied.
//
// For such an FSM the node neither restores a snapshot nor re-applies any
// log entry the FSM already holds when it restarts, so restart time does not
// grow with the log. If the durable index is behind the latest snapshot, the
// node restores the snapshot first and then applies the log tail: never a
// gap, never an entry applied twice. A gap of a few entries (at most 64, such
// as the no-op a new leader appends, which raft never hands an FSM) that the
// local log holds, up to the snapshot's last entry with the snapshot's term,
// is replayed from the log instead of restoring the snapshot.
//
// The node recognises a durable FSM by this interface alone: one that
// misses a method silently runs as an ordinary FSM and replays the log at
// every start. Assert it at compile time:
//
//	var _ raftsync.DurableFSM = (*MyFSM)(nil)
type DurableFSM interface {
	raft.FSM
	// DurableIndex returns the index of the last log entry whose effects
	// are durably stored, or 0 when the FSM holds nothing. It is called once
	// by Open, before raft starts.
	DurableIndex() (uint64, error)
	// RestoreAt replaces the whole state with the snapshot's and records
	// index as the durable index, in one atomic write: after a crash the
	// FSM holds either its old state and index or the new ones. The node
	// calls it instead of Restore, with the raft index the snapshot stands
	// for (which, for a restored backup, is not the index the payload was
	// taken at). It must not change the state when it returns an error.
	RestoreAt(rc io.ReadCloser, index uint64) error
}

// SnapshotValidator is implemented by an FSM that can check a snapshot
// payload without applying it. Restore calls it on a backup before handing
// the backup to raft: raft's restore of a user snapshot treats an FSM
// Restore error as fatal (it panics), so a payload the FSM would refuse
// must be refused before raft sees it.
type SnapshotValidator interface {
	ValidateSnapshot(payload io.Reader) error
}

// markerExtension tags the node's own log entries. A marker is a
// LogCommand with no data that the FSM wrapper consumes without showing it
// to the application. A new leader commits one to learn that its term's
// first entry is applied (the Barrier after election), and because the
// wrapper sees it, every node's applied index reaches the commit index even
// when raft's own no-op entry (which raft never hands to an FSM) is last.
var markerExtension = []byte("raftkit.marker.v1")

func isMarker(l *raft.Log) bool {
	return l.Type == raft.LogCommand && bytes.Equal(l.Extensions, markerExtension)
}

// errReplayUnconfirmed refuses a snapshot while the application holds
// entries (from local replay or its own durable store) that raft has not
// yet re-delivered: a snapshot taken now would claim an older index than
// the state it contains.
var errReplayUnconfirmed = errors.New("raftsync: snapshot deferred until raft has re-delivered the locally recovered entries")

// fsm wraps the application's raft.FSM. It knows the exact index the
// application has finished applying, hides the node's marker entries and
// the entries the application already holds, and frames snapshots in the
// checksummed snapshot format. It never changes what the application sees
// of the entries it does pass on: the same *raft.Log values, in order, and
// configuration entries only to an application that implements
// raft.BatchingFSM (as raft itself does) or raft.ConfigurationStore.
type fsm struct {
	app         raft.FSM
	batching    raft.BatchingFSM
	durable     DurableFSM
	configStore raft.ConfigurationStore
	// snapshots is raft's snapshot store; Restore looks up the index of
	// the snapshot being restored there (raft does not pass it).
	snapshots raft.SnapshotStore
	spoolDir  string
	logger    hclog.Logger

	// applied is the applied index: the highest index whose effects the
	// application holds.
	applied indexwait.Waiter
	// pos is the applied index with the term of its entry, read as one
	// value, so that a reader never pairs one entry's index with another's
	// term. It is stored before applied moves, so its index ≥ the applied
	// index a reader saw earlier, except across a snapshot restore.
	pos positionCell
	// responses is ApplyBatch's answer buffer, reused from batch to batch
	// (ApplyBatch calls never overlap: raft's FSM goroutine, or recovery
	// before raft starts).
	responses []interface{}
	// delivered is the highest index raft has handed to the wrapper,
	// skipped entries included.
	delivered atomic.Uint64
	// skipThrough: entries at or below it are already in the application's
	// state and are not applied again.
	skipThrough atomic.Uint64
	// appEntries counts entries passed to the application (tests, metrics).
	appEntries atomic.Uint64

	// restoring, while a snapshot is being received or restored, describes
	// the progress for readiness ("restoring snapshot: 12.0 MB").
	restoring atomic.Pointer[restoreCounter]

	// snapshotCost is the work of the latest snapshot, in nanoseconds: the
	// application's Snapshot plus Persist, without the time raft queued
	// the request behind applies.
	snapshotCost atomic.Int64
	// snapshotSize is the payload size of the latest snapshot, in bytes.
	snapshotSize atomic.Int64
	// appliedBytes counts the command bytes raft delivered since Open:
	// with snapshotSize, the snapshot trigger's estimate of the state's
	// size before its first snapshot.
	appliedBytes atomic.Uint64

	// stats receives snapshot persist and restore timings; nil in tests
	// that build an fsm without a node.
	stats *nodeStats

	// onApplied, when set, is called from raft's FSM goroutine after each
	// batch with the new applied index. It must not block.
	onApplied atomic.Pointer[func(uint64)]
}

func newFSM(app raft.FSM, snapshots raft.SnapshotStore, spoolDir string, logger hclog.Logger) *fsm {
	f := &fsm{app: app, snapshots: snapshots, spoolDir: spoolDir, logger: logger}
	f.batching, _ = app.(raft.BatchingFSM)
	f.durable, _ = app.(DurableFSM)
	f.configStore, _ = app.(raft.ConfigurationStore)
	return f
}

// Apply is part of raft.FSM; raft calls ApplyBatch instead since the
// wrapper is a BatchingFSM, but recovery and tests may call either.
func (f *fsm) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch is part of raft.BatchingFSM. It is called only from raft's
// FSM goroutine (or from recovery before raft starts).
func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	if len(logs) == 0 {
		return nil
	}
	// raft copies each response into its future before the next batch
	// and keeps nothing of the slice, so one buffer serves every batch.
	responses := slices.Grow(f.responses[:0], len(logs))[:len(logs)]
	clear(responses)
	f.responses = responses
	skip := f.skipThrough.Load()

	// Fast path: every entry is an application command the app has not
	// seen, so the slice raft gave us goes through unchanged.
	if f.allForApp(logs, skip) {
		f.applyToApp(logs, responses, nil)
	} else {
		pass := make([]*raft.Log, 0, len(logs))
		where := make([]int, 0, len(logs))
		for i, l := range logs {
			if l.Index <= skip || isMarker(l) {
				continue
			}
			switch l.Type {
			case raft.LogCommand:
			case raft.LogConfiguration:
				if f.batching == nil {
					if f.configStore != nil {
						f.configStore.StoreConfiguration(l.Index, raft.DecodeConfiguration(l.Data))
					}
					continue
				}
			default:
				continue
			}
			pass = append(pass, l)
			where = append(where, i)
		}
		f.applyToApp(pass, responses, where)
	}

	var size int
	for _, l := range logs {
		size += len(l.Data)
	}
	f.appliedBytes.Add(uint64(size))
	last := logs[len(logs)-1]
	f.delivered.Store(last.Index)
	f.advanceApplied(last.Index, last.Term)
	if cb := f.onApplied.Load(); cb != nil {
		(*cb)(f.applied.Index())
	}
	return responses
}

func (f *fsm) allForApp(logs []*raft.Log, skip uint64) bool {
	if logs[0].Index <= skip {
		return false
	}
	for _, l := range logs {
		if l.Type != raft.LogCommand || isMarker(l) {
			return false
		}
	}
	return true
}

// applyToApp applies logs to the application and stores response i at
// responses[where[i]] (or responses[i] when where is nil).
func (f *fsm) applyToApp(logs []*raft.Log, responses []interface{}, where []int) {
	if len(logs) == 0 {
		return
	}
	f.appEntries.Add(uint64(len(logs)))
	put := func(i int, v interface{}) {
		if where == nil {
			responses[i] = v
		} else {
			responses[where[i]] = v
		}
	}
	if f.batching != nil {
		out := f.batching.ApplyBatch(logs)
		if len(out) != len(logs) {
			// raft itself panics here; a wrong count from the application
			// is a bug we surface per entry instead.
			err := fmt.Errorf("raftsync: application ApplyBatch returned %d responses for %d entries", len(out), len(logs))
			f.logger.Error("application FSM contract violation", "error", err)
			for i := range logs {
				put(i, err)
			}
			return
		}
		for i, v := range out {
			put(i, v)
		}
		return
	}
	for i, l := range logs {
		put(i, f.app.Apply(l))
	}
}

// appliedPosition is an applied index and the term of its entry; term 0
// means the term is not known (an index recovered from a durable FSM).
type appliedPosition struct{ index, term uint64 }

// positionCell holds an appliedPosition for one writer and any number of
// readers without allocating per store (the applied position moves once
// per applied batch): a sequence count, odd while a store is under way,
// lets a reader retry a read that overlapped a store.
type positionCell struct {
	seq         atomic.Uint64
	index, term atomic.Uint64
}

// store sets the position; calls must not overlap (the FSM goroutine, or
// recovery before raft starts).
func (c *positionCell) store(p appliedPosition) {
	c.seq.Add(1)
	c.index.Store(p.index)
	c.term.Store(p.term)
	c.seq.Add(1)
}

// load returns the position of the latest store that ended before it.
func (c *positionCell) load() appliedPosition {
	for {
		before := c.seq.Load()
		if before&1 == 0 {
			p := appliedPosition{index: c.index.Load(), term: c.term.Load()}
			if c.seq.Load() == before {
				return p
			}
		}
		runtime.Gosched()
	}
}

// position returns the applied index and the term of its entry, read
// together: the pair is one the FSM held at some moment.
func (f *fsm) position() (index, term uint64) {
	p := f.pos.load()
	return p.index, p.term
}

// advanceApplied raises A to index, whose entry has term (0: unknown).
// A lower or equal index changes nothing. Only the FSM goroutine (or
// recovery, before raft starts) calls it.
func (f *fsm) advanceApplied(index, term uint64) {
	if index <= f.applied.Index() {
		return
	}
	f.pos.store(appliedPosition{index: index, term: term})
	f.applied.Advance(index)
}

// resetApplied sets A to index, lower or not, for a snapshot restore.
func (f *fsm) resetApplied(index, term uint64) {
	f.pos.store(appliedPosition{index: index, term: term})
	f.applied.Reset(index)
}

// Snapshot is part of raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if f.delivered.Load() < f.skipThrough.Load() {
		return nil, errReplayUnconfirmed
	}
	start := time.Now()
	s, err := f.app.Snapshot()
	if err != nil {
		return nil, err
	}
	index, term := f.position()
	return &fsmSnapshot{app: s, fsm: f, captured: time.Since(start), header: snapshot.Header{
		Index:           index,
		Term:            term,
		CreatedUnixNano: time.Now().UnixNano(),
	}}, nil
}

// Restore is part of raft.FSM. raft calls it for a snapshot installed from
// the leader and for a restored backup. The stream is verified in full
// (spooled to a temporary file under Dir) before the application's Restore
// sees a byte of it, so a corrupt snapshot is refused and the application
// keeps its state.
func (f *fsm) Restore(rc io.ReadCloser) (err error) {
	defer rc.Close()
	start := time.Now()
	counter := &restoreCounter{r: rc}
	defer func() {
		if f.stats != nil {
			f.stats.snapshotRestore.done(start, counter.n.Load(), err)
		}
	}()
	f.restoring.Store(counter)
	defer f.restoring.Store(nil)
	h, payload, err := snapshot.Verify(counter, f.spoolDir)
	if err != nil {
		f.logger.Error("refusing snapshot", "error", err)
		return err
	}
	// raft does not pass the restored snapshot's meta, but restores only a
	// snapshot it has just written to the store (raft v1.7.3: installSnapshot
	// and restoreUserSnapshot Create it, then hand its ID to the FSM
	// goroutine), and that snapshot has the store's highest index: one
	// installed from the leader is ahead of everything this node applied,
	// and a restored backup is written past the log's last index. No
	// snapshot with a higher index can appear meanwhile: raft snapshots the
	// FSM through this same goroutine, so one it persists concurrently was
	// taken at a lower index.
	var raftIndex, raftTerm uint64
	if metas, err := f.snapshots.List(); err == nil {
		if m := newestSnapshot(metas); m != nil {
			raftIndex, raftTerm = m.Index, m.Term
		}
	}
	if err := f.restoreVerified(h, payload, raftIndex, raftTerm); err != nil {
		return err
	}
	f.logger.Info("restored snapshot", "index", raftIndex, "bytes", counter.n.Load(), "took", time.Since(start))
	return nil
}

// restoreProgress describes a snapshot restore under way, or "".
func (f *fsm) restoreProgress() string {
	c := f.restoring.Load()
	if c == nil {
		return ""
	}
	return fmt.Sprintf("restoring snapshot from the leader: %.1f MB received", float64(c.n.Load())/1e6)
}

// restoreCounter counts the bytes of a snapshot as they are read.
type restoreCounter struct {
	r io.Reader
	n atomic.Int64
}

func (c *restoreCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// restoreVerified hands a verified payload to the application and sets the
// applied position to raftIndex and raftTerm, the raft index and term the
// snapshot stands for (a durable FSM records the index too). The payload's
// own header is not used for that: a restored backup's payload was taken
// at an index and term of another cluster's log.
func (f *fsm) restoreVerified(h snapshot.Header, payload io.ReadCloser, raftIndex, raftTerm uint64) error {
	closeOnce := &onceCloser{ReadCloser: payload}
	defer closeOnce.Close()
	var err error
	if f.durable != nil {
		err = f.durable.RestoreAt(closeOnce, raftIndex)
	} else {
		err = f.app.Restore(closeOnce)
	}
	if err != nil {
		return fmt.Errorf("raftsync: application Restore: %w", err)
	}
	// The state now is the log's state at raftIndex: the entries between
	// the payload's own index and raftIndex are ones the FSM never sees
	// (no-ops, markers). raftIndex is 0 only if raft's store could not be
	// listed; the payload's index is then the best we know.
	idx, term := raftIndex, raftTerm
	if idx == 0 {
		idx, term = h.Index, h.Term
	}
	f.skipThrough.Store(0)
	f.delivered.Store(idx)
	f.resetApplied(idx, term)
	if cb := f.onApplied.Load(); cb != nil {
		(*cb)(idx)
	}
	return nil
}

type onceCloser struct {
	io.ReadCloser
	once sync.Once
	err  error
}

func (c *onceCloser) Close() error {
	c.once.Do(func() { c.err = c.ReadCloser.Close() })
	return c.err
}

// fsmSnapshot frames the application's snapshot in the snapshot format.
type fsmSnapshot struct {
	app      raft.FSMSnapshot
	header   snapshot.Header
	fsm      *fsm
	captured time.Duration // how long the application's Snapshot took
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) (err error) {
	start := time.Now()
	fs := &framedSink{SnapshotSink: sink}
	defer func() {
		if s.fsm.stats != nil {
			s.fsm.stats.snapshotPersist.done(start, fs.written, err)
		}
		s.fsm.snapshotCost.Store(int64(s.captured + time.Since(start)))
		s.fsm.snapshotSize.Store(fs.written)
	}()
	w, err := snapshot.NewWriter(sink, s.header)
	if err != nil {
		sink.Cancel()
		return err
	}
	fs.w = w
	if err := s.app.Persist(fs); err != nil {
		fs.Cancel()
		return err
	}
	// An application that returned nil without closing the sink still
	// gets its snapshot finished.
	return fs.Close()
}

func (s *fsmSnapshot) Release() { s.app.Release() }

// framedSink is the raft.SnapshotSink the application writes to: writes go
// through the snapshot Writer, Close writes the trailer first.
type framedSink struct {
	raft.SnapshotSink
	w       *snapshot.Writer
	written int64 // payload bytes the application wrote
	done    bool
}

func (s *framedSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.written += int64(n)
	return n, err
}

func (s *framedSink) Close() error {
	if s.done {
		return nil
	}
	s.done = true
	if err := s.w.Close(); err != nil {
		s.SnapshotSink.Cancel()
		return err
	}
	return s.SnapshotSink.Close()
}

func (s *framedSink) Cancel() error {
	if s.done {
		return nil
	}
	s.done = true
	return s.SnapshotSink.Cancel()
}
