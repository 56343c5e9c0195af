package raftsync

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/internal/wire"
	"github.com/raftkit/raftkit/readiness"
)

// TestClassifyForwardedWrite: each answer forwardApply can return lands in
// the outcome the metrics document.
func TestClassifyForwardedWrite(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want WriteOutcome
	}{
		{"applied", nil, WriteApplied},
		{"fsm error", &ApplyError{Index: 7, Message: "conflict"}, WriteFSMError},
		{"never sent", fmt.Errorf("%w: %w", errRetryElsewhere, rpc.ErrNotSent), WriteNotSent},
		{"not the leader", statusError(wire.Status{Code: wire.CodeNotLeader}), WriteRefused},
		{"no leader", statusError(wire.Status{Code: wire.CodeNoLeader}), WriteRefused},
		{"too large", statusError(wire.Status{Code: wire.CodeTooLarge}), WriteRefused},
		{"indeterminate", fmt.Errorf("%w: forwarding: %w", ErrIndeterminate, errors.New("reset")), WriteIndeterminate},
		{"committed, answer lost", fmt.Errorf("%w (index 9)", ErrCommittedNoResponse), WriteIndeterminate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classifyForwardedWrite(tc.err); got != tc.want {
				t.Fatalf("classifyForwardedWrite(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	for _, o := range WriteOutcomes() {
		if o.String() == "unknown" {
			t.Errorf("outcome %d has no name", int(o))
		}
	}
}

// TestNodeStatsCounts: the counters behind Metrics count what they are
// told, per level and per state.
func TestNodeStatsCounts(t *testing.T) {
	var s nodeStats
	s.read(consistency.Lease, nil)
	s.read(consistency.Lease, errors.New("x"))
	s.read(consistency.Level(99), nil) // not a level: ignored, no panic
	s.lease(consistency.Lease, true)
	s.lease(consistency.Lease, false)
	s.lease(consistency.Lease, false)
	s.round(nil)
	s.round(errNotConfirmed)
	opened := time.Now()
	s.readinessChanged(opened, readiness.Status{State: readiness.CatchingUp}, readiness.Status{State: readiness.Ready})
	s.readinessChanged(opened, readiness.Status{State: readiness.Ready, ReadyAt: opened}, readiness.Status{State: readiness.Degraded})
	s.readinessChanged(opened, readiness.Status{State: readiness.Degraded, ReadyAt: opened}, readiness.Status{State: readiness.Ready, ReadyAt: opened})
	s.snapshotPersist.done(opened, 100, nil)
	s.snapshotPersist.done(opened, 50, errors.New("disk full"))

	if s.reads[consistency.Lease].Load() != 2 || s.readErrors[consistency.Lease].Load() != 1 {
		t.Errorf("reads %d errors %d", s.reads[consistency.Lease].Load(), s.readErrors[consistency.Lease].Load())
	}
	if s.leaseHits[consistency.Lease].Load() != 1 || s.leaseMisses[consistency.Lease].Load() != 2 {
		t.Errorf("lease hits %d misses %d", s.leaseHits[consistency.Lease].Load(), s.leaseMisses[consistency.Lease].Load())
	}
	if s.roundsConfirmed.Load() != 1 || s.roundsFailed.Load() != 1 {
		t.Errorf("rounds %d/%d", s.roundsConfirmed.Load(), s.roundsFailed.Load())
	}
	if s.transitions[readiness.Ready].Load() != 2 || s.transitions[readiness.Degraded].Load() != 1 {
		t.Errorf("transitions to ready %d, degraded %d", s.transitions[readiness.Ready].Load(), s.transitions[readiness.Degraded].Load())
	}
	if s.timeToReady.Load() <= 0 {
		t.Error("time to ready not recorded")
	}
	if got := s.snapshotPersist.load(); got.Count != 1 || got.Failures != 1 || got.Bytes != 100 || got.Seconds <= 0 {
		t.Errorf("snapshot persist timing %+v", got)
	}
}
