package raftsync

import (
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// peers is the node's view of its cluster: the cluster's identity, the IDs
// of raft's latest configuration (checked against every peer's identity,
// peerauth.go), and this node's own place in it (membership and role).
// Each field is safe for concurrent use except membersKey, which only the
// monitor goroutine touches.
type peers struct {
	cluster atomic.Pointer[string] // set at Open, or by the join
	// members caches the IDs of the latest configuration for checking
	// peers' identities (peerauth.go); membersKey is the configuration
	// they were taken from (configurationKey; the monitor's only).
	members      atomic.Pointer[map[string]struct{}]
	membersKey   *raft.Server
	lastDenyWarn atomic.Int64 // unix nanoseconds of the last refused-request warning
	// membership: whether this node has been in raft's latest
	// configuration in this run, and whether it has since left it.
	membership membership
	role       roleTracker // this node's own role, for Status
}
