package faultsuite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/raftkit/raftkit/readiness"
)

// finalState is what the run reached after the faults: the index of a
// write every member has applied, or why it was not reached.
type finalState struct {
	index uint64
	took  time.Duration
	err   error
}

// recover waits, after the faults have ended, for the cluster to commit one
// more write and for every member to apply it and be Ready. Failing to get
// there within the RecoveryTimeout is itself a violation: a healed cluster
// must make progress.
func (r *run) recover() finalState {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.RecoveryTimeout)
	defer cancel()
	var idx uint64
	for attempt := 0; ; attempt++ {
		l := r.leader()
		if l < 0 {
			l = attempt % r.s.Members()
		}
		sl := r.slots[l].Load()
		if sl == nil {
			return r.unrecovered(fmt.Errorf("member %s is down", r.name(l)))
		}
		callCtx, callCancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := sl.node.Apply(callCtx, WriteCommand("final", fmt.Sprintf("final.%d", attempt)))
		callCancel()
		if err == nil {
			idx = res.Index
			r.note("final write committed at %d through %s (attempt %d)", idx, r.name(l), attempt)
			break
		}
		if ctx.Err() != nil {
			return r.unrecovered(fmt.Errorf("no write committed after the faults ended: last error %w", err))
		}
		if attempt%20 == 0 {
			r.note("final write attempt %d on %s: %v", attempt, r.name(l), err)
		}
		<-time.After(50 * time.Millisecond) // retry pacing
	}
	for i := range r.slots {
		sl := r.slots[i].Load()
		if sl == nil && r.isOut(i) {
			continue // a spare not in the cluster
		}
		if sl == nil {
			return r.unrecovered(fmt.Errorf("member %s is down", r.name(i)))
		}
		if err := sl.node.WaitIndex(ctx, idx); err != nil {
			return r.unrecovered(fmt.Errorf("%s did not apply the final write at %d: %w", r.name(i), idx, err))
		}
		if err := sl.node.WaitReady(ctx); err != nil {
			return r.unrecovered(fmt.Errorf("%s not Ready: %w", r.name(i), err))
		}
		r.note("%s applied %d and is Ready", r.name(i), idx)
	}
	// A write whose outcome was unknown may still land after the final
	// one; bring every member to the highest index any has applied, so
	// that the FSMs are compared at the same point.
	var top uint64
	for _, f := range r.fsms() {
		if f != nil {
			top = max(top, f.Last())
		}
	}
	for i := range r.slots {
		sl := r.slots[i].Load()
		if sl == nil {
			continue // a spare not in the cluster
		}
		if err := sl.node.WaitIndex(ctx, top); err != nil {
			return r.unrecovered(fmt.Errorf("%s did not apply index %d that another member applied: %w", r.name(i), top, err))
		}
	}
	r.note("recovered: every member applied %d and is Ready", top)
	return finalState{index: idx, took: time.Since(r.healedAt)}
}

func (r *run) unrecovered(err error) finalState {
	r.violation("no-recovery", "%v after every fault had ended; members:\n%s", err, r.statuses())
	return finalState{err: err}
}

// readinessLog records every readiness status every member reported.
type readinessLog struct {
	mu       sync.Mutex
	statuses []memberStatus
}

type memberStatus struct {
	member int
	status readiness.Status
}

func (l *readinessLog) add(member int, st readiness.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses = append(l.statuses, memberStatus{member, st})
}

func (l *readinessLog) all() []memberStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]memberStatus(nil), l.statuses...)
}
