package raftsync

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/internal/indexwait"
	"github.com/raftkit/raftkit/readiness"
)

// persister records the applied index A durably as P, throttled by the
// Persist policy, on demand for the read fence, and once more at Close. It
// owns one goroutine; the FSM goroutine only nudges it, never waits for it.
type persister struct {
	n    *Node
	file *recordStore

	persisted indexwait.Waiter // P
	nudge     chan struct{}    // applied index moved EveryEntries past P
	tick      chan struct{}    // the Interval timer fired
	urgent    chan struct{}    // a read-fence waiter needs a write now

	mu       sync.Mutex // serializes Store calls (the file has one writer)
	throttle *appliedrecord.Throttle
	started  bool
}

func newPersister(n *Node, file *recordStore) *persister {
	return &persister{
		n:      n,
		file:   file,
		nudge:  make(chan struct{}, 1),
		tick:   make(chan struct{}, 1),
		urgent: make(chan struct{}, 1),
	}
}

// start begins background persistence with P as recovered.
func (p *persister) start(recovered uint64) {
	p.persisted.Advance(recovered)
	p.throttle = appliedrecord.NewThrottle(p.n.cfg.Persist, p.n.clock, recovered)
	p.started = true
	p.n.wg.Add(1)
	go func() {
		defer p.n.wg.Done()
		p.run()
	}()
}

func (p *persister) index() uint64 { return p.persisted.Index() }

// notifyApplied is called from the FSM goroutine after each batch; it
// never blocks. It wakes the writer only once the batch took A
// EveryEntries past P: the Interval timer covers smaller moves, so that
// a busy node does not wake the writer for every batch.
func (p *persister) notifyApplied(applied uint64) {
	if p.throttle != nil && !p.throttle.DueByEntries(applied) {
		return
	}
	select {
	case p.nudge <- struct{}{}:
	default:
	}
}

func (p *persister) run() {
	interval := p.n.cfg.Persist.Interval
	if interval == 0 {
		interval = readiness.DefaultPersistInterval
	}
	fire := func() {
		select {
		case p.tick <- struct{}{}:
		default:
		}
	}
	ticker := p.n.clock.AfterFunc(interval, fire)
	defer func() { ticker.Stop() }()
	for {
		select {
		case <-p.n.ctx.Done():
			return
		case <-p.urgent:
			p.store(true)
		case <-p.nudge:
			if p.store(false) {
				ticker.Stop()
				ticker = p.n.clock.AfterFunc(interval, fire)
			}
		case <-p.tick:
			// Batches below EveryEntries do not nudge: the timer is what
			// persists them, so it runs again whether or not it wrote.
			p.store(false)
			ticker.Stop()
			ticker = p.n.clock.AfterFunc(interval, fire)
		}
	}
}

// store writes the record if forced or due. It reports whether it wrote.
func (p *persister) store(force bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	applied, term := p.n.fsm.position()
	if applied <= p.persisted.Index() || (!force && !p.throttle.Due(applied)) {
		return false
	}
	if p.n.ClusterID() == "" {
		return false // a joining node learns its cluster from the join answer
	}
	rec, err := p.record(applied, term)
	if err == nil {
		err = p.file.Store(rec)
	}
	if err != nil {
		p.n.logger.Error("persisting the applied index failed", "index", applied, "error", err)
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

// record builds the record of the applied position (index, term), checked
// against the log: the term written is the term of the log's entry at
// index, and a known term that differs from it refuses the record. When
// the log no longer holds the entry (it is covered by a snapshot, which
// restart does not check against the log) the position's own term is
// written.
func (p *persister) record(index, term uint64) (appliedrecord.Record, error) {
	if lt := p.logTerm(index); lt != 0 {
		if term != 0 && term != lt {
			return appliedrecord.Record{}, fmt.Errorf("%w: index %d applied in term %d, log holds term %d", errPositionMismatch, index, term, lt)
		}
		term = lt
	}
	return appliedrecord.Record{NodeID: p.n.cfg.ID, ClusterID: p.n.ClusterID(), Index: index, Term: term}, nil
}

// logTerm returns the term of the log's entry at index, or 0 when the log
// does not hold it.
func (p *persister) logTerm(index uint64) uint64 {
	if index == 0 {
		return 0
	}
	var l raft.Log
	if err := p.n.store.logs.GetLog(index, &l); err != nil {
		return 0
	}
	return l.Term
}

// waitCovers blocks until P ≥ idx, asking for an immediate write: every
// reader waiting at that moment is served by the same write.
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
	applied, term := p.n.fsm.position()
	if applied <= p.persisted.Index() || p.n.ClusterID() == "" {
		return nil
	}
	rec, err := p.record(applied, term)
	if err != nil {
		return fmt.Errorf("raftsync: final applied-index record: %w", err)
	}
	if err := p.file.Store(rec); err != nil {
		return fmt.Errorf("raftsync: final applied-index record: %w", err)
	}
	p.persisted.Advance(applied)
	return nil
}
