package readiness

import "time"

// Status is a node's readiness: the State, why, since when, and the
// indexes it was decided from.
type Status struct {
	State State
	// Reason is a short human sentence, always set when State is not Ready
	// ("waiting for a leader", "applied 120 of 4500",
	// "leader unknown for more than 5s"); empty when Ready.
	Reason string
	// Since is when State last changed.
	Since time.Time
	// Applied (A), Persisted (P), CommitIndex and LeaderID/IsLeader are
	// the values the State was decided from.
	Applied, Persisted uint64
	// SyncIndex is the sync point S in effect: the current leader's S once
	// known. While a Ready node waits for, or catches up to, a new leader's S
	// (within LeaderLossBound), it is the last S the node reached, so a Ready
	// status always has Applied ≥ SyncIndex.
	SyncIndex   uint64
	CommitIndex uint64
	LeaderID    string
	IsLeader    bool
	// ReadyAt is the first time the node was Ready in this run; zero if it
	// never was.
	ReadyAt time.Time
	// RecoveredAt is the first time the node was Recovered or later in this
	// run; zero if it never was. The RecoveredGrace is measured from it.
	RecoveredAt time.Time
}

// ReadyInvariantHolds reports whether s satisfies the readiness invariant:
// a Ready status has Applied ≥ SyncIndex. Every Status a node reports
// satisfies it; tests and the fault suite assert it.
func (s Status) ReadyInvariantHolds() bool {
	return s.State != Ready || s.Applied >= s.SyncIndex
}
