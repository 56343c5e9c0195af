package raftsync

import (
	"sync/atomic"

	"github.com/raftkit/raftkit/internal/changefeed"
	"github.com/raftkit/raftkit/internal/readystate"
)

// monitor is what the node's readiness monitor (runMonitor) decides from
// and reports to: the readiness tracker, the change coalescer behind
// SubscribeChanges, whether local recovery is done, and the channel that
// asks it to look again. The decisions themselves are the tracker's
// (internal/readystate, table-tested there).
type monitor struct {
	tracker   *readystate.Tracker
	coalescer *changefeed.Coalescer
	recovered atomic.Bool
	// kick asks the monitor to re-evaluate readiness soon; a send never
	// blocks (kickMonitor).
	kick chan struct{}
	// dropObservations makes the monitor's observer drop every raft event
	// (set only by tests, through export_test.go): nothing the node
	// guarantees may depend on an event arriving.
	dropObservations atomic.Bool
}
