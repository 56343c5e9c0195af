package raftsync

import (
	"sync/atomic"
	"time"

	"github.com/raftkit/raftkit/internal/quorum"
	"github.com/raftkit/raftkit/internal/roundbatch"
)

// leadership is what the node knows and promises about who leads: the
// current epoch (leader, term, sync point), the lease and the latest
// quorum round that confirmed this node's leadership, the leadership
// transfer it runs, and the batchers that share one quorum round (or one
// round trip to the leader) among concurrent reads. Every field is safe
// for concurrent use; the batchers are set once raft runs (startBackground)
// and closed by shutdown before raft stops.
type leadership struct {
	// heartbeatTimeout and electionTimeout are raft's, as configured: the
	// promises and bounds of this node are measured in them.
	heartbeatTimeout time.Duration
	electionTimeout  time.Duration

	epoch atomic.Pointer[epoch]
	lease *quorum.Lease
	// leaseConfig is the configuration the lease was last granted for;
	// the lease is used only while it is raft's latest.
	leaseConfig atomic.Pointer[leaseConfig]
	// quorumContact is the latest leader round that confirmed this node's
	// leadership: a leader's staleness for bounded Stale reads.
	quorumContact atomic.Pointer[quorumContact]
	transfer      transferGate // the leadership transfer this node runs as leader
	// stamps name the configurations this node read as leader, for the
	// vouchers of followers' Strong reads (readvoucher.go).
	stamps *readStamps

	leaderRounds   *roundbatch.Batcher
	followerStrong *roundbatch.Batcher
	followerLease  *roundbatch.Batcher
}

// closeRounds ends the batchers: waiting reads return, and no new round
// starts. It tolerates batchers never made (a failed Open).
func (l *leadership) closeRounds() {
	for _, b := range []*roundbatch.Batcher{l.leaderRounds, l.followerStrong, l.followerLease} {
		if b != nil {
			b.Close()
		}
	}
}
