package raftsync

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/raftkit/raftkit/internal/indexwait"
	"github.com/raftkit/raftkit/readiness"
)

// persister records the applied index A durably as P, throttled by the
// Persist policy, on demand for the read fence, and once more at Close. It
// owns one goroutine; the FSM goroutine only nudges it, never waits for it.
type persister struct {
	n    *Node
	file *readiness.RecordFile

	persisted indexwait.Waiter // P
	nudge     chan struct{}    // applied index moved
	urgent    chan struct{}    // a read-fence waiter needs a write now

	mu       sync.Mutex // serializes Store calls (the file has one writer)
	throttle *readiness.Throttle
	started  bool
	// crashed makes final a no-op, for tests that simulate a crash.
	crashed atomic.Bool
}

func newPersister(n *Node, file *readiness.RecordFile) *persister {
	return &persister{
		n:      n,
		file:   file,
		nudge:  make(chan struct{}, 1),
		urgent: make(chan struct{}, 1),
	}
}

// start begins background persistence with P as recovered.
func (p *persister) start(recovered uint64) {
	p.persisted.Advance(recovered)
	p.throttle = readiness.NewThrottle(p.n.cfg.Persist, p.n.clock, recovered)
	p.started = true
	p.n.wg.Add(1)
	go func() {
		defer p.n.wg.Done()
		p.run()
	}()
}

func (p *persister) index() uint64 { return p.persisted.Index() }

// notifyApplied is called from the FSM goroutine; it never blocks.
func (p *persister) notifyApplied() {
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
	ticker := p.n.clock.AfterFunc(interval, func() { p.notifyApplied() })
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
				ticker = p.n.clock.AfterFunc(interval, func() { p.notifyApplied() })
			}
		}
	}
}

// store writes the record if forced or due. It reports whether it wrote.
func (p *persister) store(force bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	applied := p.n.fsm.applied.Index()
	term := p.n.fsm.appliedTerm.Load()
	if applied <= p.persisted.Index() || (!force && !p.throttle.Due(applied)) {
		return false
	}
	if p.n.ClusterID() == "" {
		return false // a joining node learns its cluster from the join answer
	}
	rec := readiness.Record{NodeID: p.n.cfg.ID, ClusterID: p.n.ClusterID(), Index: applied, Term: term}
	if err := p.file.Store(rec); err != nil {
		p.n.logger.Error("persisting the applied index failed", "index", applied, "error", err)
		return false
	}
	p.throttle.Persisted(applied)
	p.persisted.Advance(applied)
	return true
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
	if !p.started || p.crashed.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	applied := p.n.fsm.applied.Index()
	if applied <= p.persisted.Index() || p.n.ClusterID() == "" {
		return nil
	}
	rec := readiness.Record{NodeID: p.n.cfg.ID, ClusterID: p.n.ClusterID(), Index: applied, Term: p.n.fsm.appliedTerm.Load()}
	if err := p.file.Store(rec); err != nil {
		return fmt.Errorf("raftsync: final applied-index record: %w", err)
	}
	p.persisted.Advance(applied)
	return nil
}
