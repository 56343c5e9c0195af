package consistency

import "time"

// ReadInfo describes what a read was served at, so that a caller (or an
// HTTP layer, in the manner of Consul's X-Consul-KnownLeader and
// X-Consul-LastContact headers) can tell how fresh the answer was.
type ReadInfo struct {
	// Level is the level the read was served at.
	Level Level
	// Index is the applied index the read observed: at least the read index
	// for Strong and Lease reads, the local applied index for Stale reads.
	Index uint64
	// IsLeader is true when the node that served the read was the leader.
	IsLeader bool
	// KnownLeader is true when the serving node knew a leader at the time.
	KnownLeader bool
	// LastContact is the time since the serving node last heard from the
	// leader; 0 on the leader.
	LastContact time.Duration
}
