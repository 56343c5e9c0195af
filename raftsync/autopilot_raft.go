package raftsync

import (
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
)

// pilotRaft is the raft autopilot drives. It is raft itself, except that
// the futures of membership changes are bound to the node's shutdown: once
// Close has shut raft down, their Error returns raft.ErrRaftShutdown even
// when raft never answered them (raft v1.7.3 can drop a configuration
// change's future; see futureWaits). Autopilot waits on those futures
// inside its own goroutines, and Close waits for autopilot to stop, so an
// unbound future would hang Close for ever.
type pilotRaft struct {
	*raft.Raft
	shutdown chan struct{} // closed by futureWaits.stop, after raft.Shutdown
}

var _ autopilot.Raft = pilotRaft{}

func (r pilotRaft) bound(f raft.IndexFuture) raft.IndexFuture {
	bindShutdown(f, r.shutdown)
	return f
}

func (r pilotRaft) AddNonvoter(id raft.ServerID, addr raft.ServerAddress, prevIndex uint64, timeout time.Duration) raft.IndexFuture {
	return r.bound(r.Raft.AddNonvoter(id, addr, prevIndex, timeout))
}

func (r pilotRaft) AddVoter(id raft.ServerID, addr raft.ServerAddress, prevIndex uint64, timeout time.Duration) raft.IndexFuture {
	return r.bound(r.Raft.AddVoter(id, addr, prevIndex, timeout))
}

func (r pilotRaft) DemoteVoter(id raft.ServerID, prevIndex uint64, timeout time.Duration) raft.IndexFuture {
	return r.bound(r.Raft.DemoteVoter(id, prevIndex, timeout))
}

func (r pilotRaft) RemoveServer(id raft.ServerID, prevIndex uint64, timeout time.Duration) raft.IndexFuture {
	return r.bound(r.Raft.RemoveServer(id, prevIndex, timeout))
}
