package raftsync_test

import (
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
)

// A *Node is what readiness's probes take: an application can mount
// readiness.ReadyHandler(node) on its own mux.
var _ readiness.StatusSource = (*raftsync.Node)(nil)
