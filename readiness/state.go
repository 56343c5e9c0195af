package readiness

import (
	"fmt"
	"strconv"
)

// State is a node's readiness state. Before its first Ready a node moves
// forward through Starting, Recovering, Recovered, CatchingUp and Ready;
// after it, only between Ready and Degraded. Removed can interrupt any of
// them but Closed; Closed is final.
type State int

// The readiness states, in the order a starting node passes through them.
const (
	// Starting: nothing is known yet; local recovery has not begun.
	Starting State = iota
	// Recovering: the node is re-applying its local snapshot and log up to
	// the persisted index.
	Recovering
	// Recovered: applied ≥ persisted index, so the node holds at least what it held before it
	// went down; it waits for a leader and the cluster sync point.
	Recovered
	// CatchingUp: a leader and the sync point are known and the node is
	// applying up to the sync point.
	CatchingUp
	// Ready: recovered, a leader is known and applied ≥ sync point. The node may serve.
	Ready
	// Degraded: the node was Ready but has lost its leader (or its sync with
	// the leader) for longer than Policy.LeaderLossBound, or lags the commit
	// index by more than Policy.MaxLag.
	Degraded
	// Closed: the node is shut down. Closed is final.
	Closed
	// Removed: the node has seen a cluster configuration without itself
	// after it had been a member (voter or non-voter) in this run: it was
	// removed and must not serve. WaitReady returns ErrRemoved. It is left
	// only if the node is added back (or for Closed).
	Removed
)

var stateNames = [...]string{
	Starting:   "starting",
	Recovering: "recovering",
	Recovered:  "recovered",
	CatchingUp: "catching_up",
	Ready:      "ready",
	Degraded:   "degraded",
	Closed:     "closed",
	Removed:    "removed",
}

// String returns the state as a lower-case word ("catching_up"), or
// "state(N)" for a value that is not a State.
func (s State) String() string {
	if s.valid() {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText returns the String form. It fails for a value that is not one
// of the defined states.
func (s State) MarshalText() ([]byte, error) {
	if !s.valid() {
		return nil, fmt.Errorf("readiness: cannot marshal unknown state %d", int(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText parses the String form of a state. On an unknown word it
// returns an error and leaves s unchanged.
func (s *State) UnmarshalText(text []byte) error {
	for i, name := range stateNames {
		if name == string(text) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("readiness: unknown state %q", text)
}

func (s State) valid() bool { return s >= Starting && s <= Removed }
