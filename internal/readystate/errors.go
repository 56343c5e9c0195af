package readystate

import (
	"errors"

	"github.com/raftkit/raftkit/readiness"
)

// Sentinel errors of the Tracker's waits; test them with errors.Is.
var (
	// ErrClosed is returned by Tracker.Wait and Tracker.WaitReady once the
	// tracker has seen an Observation with Closed set and the condition
	// waited for does not hold.
	ErrClosed = errors.New("readystate: node closed")

	// ErrRemoved is returned by Tracker.WaitReady when the node reaches
	// Removed: it is no longer in the cluster configuration and will not
	// become Ready unless it is added back.
	ErrRemoved = errors.New("readystate: node removed from the cluster")
)

// policyDefaults replaces zero (and invalid) fields of p with the defaults
// documented on readiness.Policy.
func policyDefaults(p readiness.Policy) readiness.Policy {
	if p.LeaderLossBound <= 0 {
		p.LeaderLossBound = readiness.DefaultLeaderLossBound
	}
	if p.MaxLag == 0 {
		p.MaxLag = readiness.DefaultMaxLag
	}
	if p.RecoveredGrace < 0 {
		p.RecoveredGrace = 0
	}
	return p
}

// recoveredOrLater reports whether a node in state s has finished local
// recovery and is not closed.
func recoveredOrLater(s readiness.State) bool {
	return s == readiness.Recovered || s == readiness.CatchingUp || s == readiness.Ready || s == readiness.Degraded
}
