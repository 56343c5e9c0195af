package readiness

import "time"

// Status is a node's readiness: the State, why, since when, and the
// indexes it was decided from.
//
// In JSON the field names are snake case (the tags); zero times are left
// out.
type Status struct {
	State State `json:"state"`
	// Reason is a short human sentence, always set when State is not Ready
	// ("waiting for a leader", "applied 120 of 4500",
	// "leader unknown for more than 5s"); empty when Ready.
	Reason string `json:"reason,omitempty"`
	// Since is when State last changed.
	Since time.Time `json:"since"`
	// Applied, Persisted, CommitIndex and LeaderID/IsLeader are
	// the values the State was decided from.
	Applied   uint64 `json:"applied_index"`
	Persisted uint64 `json:"persisted_index"`
	// SyncIndex is the sync point in effect: the current leader's once
	// known. While a Ready node waits for, or catches up to, a new leader's
	// sync point (within LeaderLossBound), it is the last one the node
	// reached, so a Ready
	// status always has Applied ≥ SyncIndex.
	SyncIndex   uint64 `json:"sync_index"`
	CommitIndex uint64 `json:"commit_index"`
	LeaderID    string `json:"leader_id"`
	IsLeader    bool   `json:"is_leader"`
	// ReadyAt is the first time the node was Ready in this run; zero if it
	// never was.
	ReadyAt time.Time `json:"ready_at,omitzero"`
	// RecoveredAt is the first time the node was Recovered or later in this
	// run; zero if it never was. The RecoveredGrace is measured from it.
	RecoveredAt time.Time `json:"recovered_at,omitzero"`
}

// ReadyInvariantHolds reports whether s satisfies the readiness invariant:
// a Ready status has Applied ≥ SyncIndex. Every Status a node reports
// satisfies it; tests and the fault suite assert it.
func (s Status) ReadyInvariantHolds() bool {
	return s.State != Ready || s.Applied >= s.SyncIndex
}
