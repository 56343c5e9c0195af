package raftsync

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/internal/indexwait"
	"github.com/raftkit/raftkit/readiness"
)

// logReader is the part of raft's log store the persister and recovery
// read: one entry by index.
type logReader interface {
	GetLog(index uint64, log *raft.Log) error
}

// persisterDeps is everything the persister needs from the node, given
// explicitly so that it can be built and tested without one.
type persisterDeps struct {
	file   *recordStore
	policy readiness.PersistPolicy
	clock  clock.Clock
	// position returns the applied index and the term of its entry, read
	// together (fsm.position).
	position func() (index, term uint64)
	logs     logReader
	nodeID   string
	// clusterID returns the cluster's identity, "" until a join tells it.
	clusterID func() string
	logger    hclog.Logger
}

// persister records the applied index durably as the persisted index,
// throttled by the Persist policy, on demand for the read fence, and once
// more at Close. It owns one goroutine; the FSM goroutine only nudges it,
// never waits for it. It guarantees that the persisted index never exceeds
// the applied index and that every record it writes names an index and
// term the log agrees with (record).
type persister struct {
	d persisterDeps

	persisted indexwait.Waiter // the persisted index
	nudge     chan struct{}    // applied index moved EveryEntries past the persisted index
	tick      chan struct{}    // the Interval timer fired
	urgent    chan struct{}    // a read-fence waiter needs a write now

	mu       sync.Mutex // serializes Store calls (the file has one writer)
	throttle *appliedrecord.Throttle
	started  bool
}

func newPersister(d persisterDeps) *persister {
	return &persister{
		d:      d,
		nudge:  make(chan struct{}, 1),
		tick:   make(chan struct{}, 1),
		urgent: make(chan struct{}, 1),
	}
}

// start begins background persistence from recovered, the persisted index
// recovery trusted. The goroutine ends when ctx does; wg tracks it.
func (p *persister) start(ctx context.Context, wg *sync.WaitGroup, recovered uint64) {
	p.persisted.Advance(recovered)
	p.throttle = appliedrecord.NewThrottle(p.d.policy, p.d.clock, recovered)
	p.started = true
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.run(ctx)
	}()
}

func (p *persister) index() uint64 { return p.persisted.Index() }

// notifyApplied is called from the FSM goroutine after each batch; it
// never blocks. It wakes the writer only once the batch took the applied
// index EveryEntries past the persisted one: the Interval timer covers
// smaller moves, so that a busy node does not wake the writer for every
// batch.
func (p *persister) notifyApplied(applied uint64) {
	if p.throttle != nil && !p.throttle.DueByEntries(applied) {
		return
	}
	select {
	case p.nudge <- struct{}{}:
	default:
	}
}

func (p *persister) run(ctx context.Context) {
	interval := p.d.policy.Interval
	if interval == 0 {
		interval = readiness.DefaultPersistInterval
	}
	fire := func() {
		select {
		case p.tick <- struct{}{}:
		default:
		}
	}
	ticker := p.d.clock.AfterFunc(interval, fire)
	defer func() { ticker.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.urgent:
			p.store(true)
		case <-p.nudge:
			if p.store(false) {
				ticker.Stop()
				ticker = p.d.clock.AfterFunc(interval, fire)
			}
		case <-p.tick:
			// Batches below EveryEntries do not nudge: the timer is what
			// persists them, so it runs again whether or not it wrote.
			p.store(false)
			ticker.Stop()
			ticker = p.d.clock.AfterFunc(interval, fire)
		}
	}
}

// persistDue decides whether the applied index is written now: only when
// it is above the persisted index, the cluster is known (a joining node
// learns it from the join answer, and a record without it would be
// refused at restart), and either a reader forces the write or the
// throttle (appliedrecord.Throttle, the Persist policy) finds it due.
func persistDue(applied, persisted uint64, clusterID string, force, throttleDue bool) bool {
	return applied > persisted && clusterID != "" && (force || throttleDue)
}

// store writes the record if forced or due. It reports whether it wrote.
func (p *persister) store(force bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	applied, term := p.d.position()
	cluster := p.d.clusterID()
	if !persistDue(applied, p.persisted.Index(), cluster, force, p.throttle.Due(applied)) {
		return false
	}
	rec, err := appliedRecordFor(p.d.nodeID, cluster, applied, term, p.logTerm(applied))
	if err == nil {
		err = p.d.file.Store(rec)
	}
	if err != nil {
		p.d.logger.Error("persisting the applied index failed", "index", applied, "error", err)
		return false
	}
	p.throttle.Persisted(applied)
	p.persisted.Advance(applied)
	return true
}

// errPositionMismatch: the applied position names a term the log does not
// hold at its index. Restart would refuse such a record, so it is never
// written.
var errPositionMismatch = errors.New("raftsync: applied index and term do not match the log")

// appliedRecordFor builds the record of the applied position (index,
// term), given logTerm, the term of the log's entry at index (0 when the
// log does not hold it). The term written is the log's, and a known term
// that differs from it refuses the record. When the log no longer holds
// the entry (it is covered by a snapshot, which restart does not check
// against the log) the position's own term is written.
func appliedRecordFor(nodeID, clusterID string, index, term, logTerm uint64) (appliedrecord.Record, error) {
	if logTerm != 0 {
		if term != 0 && term != logTerm {
			return appliedrecord.Record{}, fmt.Errorf("%w: index %d applied in term %d, log holds term %d", errPositionMismatch, index, term, logTerm)
		}
		term = logTerm
	}
	return appliedrecord.Record{NodeID: nodeID, ClusterID: clusterID, Index: index, Term: term}, nil
}

// logTerm returns the term of the log's entry at index, or 0 when the log
// does not hold it.
func (p *persister) logTerm(index uint64) uint64 { return logTermAt(p.d.logs, index) }

// logTermAt returns the term of logs' entry at index, or 0 when it does
// not hold it.
func logTermAt(logs logReader, index uint64) uint64 {
	if index == 0 {
		return 0
	}
	var l raft.Log
	if err := logs.GetLog(index, &l); err != nil {
		return 0
	}
	return l.Term
}

// waitCovers blocks until the persisted index is at least idx, asking for
// an immediate write: every reader waiting at that moment is served by the
// same write.
func (p *persister) waitCovers(ctx context.Context, idx uint64) error {
	if p.persisted.Index() >= idx {
		return nil
	}
	select {
	case p.urgent <- struct{}{}:
	default:
	}
	if err := p.persisted.Wait(ctx, idx); err != nil {
		return fmt.Errorf("raftsync: waiting for the read fence: %w", err)
	}
	return nil
}

// final writes the last applied index at Close, after raft has stopped.
func (p *persister) final() error {
	defer p.persisted.Close()
	if !p.started {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	applied, term := p.d.position()
	cluster := p.d.clusterID()
	if !persistDue(applied, p.persisted.Index(), cluster, true, false) {
		return nil
	}
	rec, err := appliedRecordFor(p.d.nodeID, cluster, applied, term, p.logTerm(applied))
	if err != nil {
		return fmt.Errorf("raftsync: final applied-index record: %w", err)
	}
	if err := p.d.file.Store(rec); err != nil {
		return fmt.Errorf("raftsync: final applied-index record: %w", err)
	}
	p.persisted.Advance(applied)
	return nil
}
