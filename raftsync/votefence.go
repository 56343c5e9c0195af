package raftsync

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// voteFence keeps a restarted node from granting votes for one
// HeartbeatTimeout after it starts.
//
// A leader's lease rests on its followers' promises not to vote for anyone
// else until HeartbeatTimeout after they last heard from it (see
// handleConfirm): hashicorp/raft followers refuse votes while they know a
// leader. A follower that crashes and restarts forgets its leader and would
// grant a vote at once, breaking a promise it made before the crash. The
// fence refuses RequestVote and RequestPreVote (except for a leadership
// transfer, which the old leader started itself, ending its lease first)
// until the longest promise the node can have made has run out. The node
// cannot campaign itself before then either: raft waits at least
// HeartbeatTimeout before a follower's first candidacy.
//
// It wraps raft's transport and forwards every other RPC unchanged;
// heartbeats keep raft's fast path, which does not go through Consumer.
type voteFence struct {
	*raft.NetworkTransport
	out    chan raft.RPC
	until  time.Time
	answer func() (raft.RPCHeader, uint64) // header and term to refuse with

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

func newVoteFence(t *raft.NetworkTransport, d time.Duration, answer func() (raft.RPCHeader, uint64)) *voteFence {
	v := &voteFence{
		NetworkTransport: t,
		out:              make(chan raft.RPC),
		until:            time.Now().Add(d),
		answer:           answer,
		stop:             make(chan struct{}),
		done:             make(chan struct{}),
	}
	go v.run()
	return v
}

// Consumer is part of raft.Transport.
func (v *voteFence) Consumer() <-chan raft.RPC { return v.out }

func (v *voteFence) run() {
	defer close(v.done)
	in := v.NetworkTransport.Consumer()
	for {
		select {
		case rpc := <-in:
			if v.refuse(rpc) {
				continue
			}
			select {
			case v.out <- rpc:
			case <-v.stop:
				rpc.Respond(nil, raft.ErrTransportShutdown)
				return
			}
		case <-v.stop:
			return
		}
	}
}

// refuse answers a vote request inside the fence and reports whether it
// did.
func (v *voteFence) refuse(rpc raft.RPC) bool {
	if !time.Now().Before(v.until) {
		return false
	}
	header, term := v.answer()
	switch req := rpc.Command.(type) {
	case *raft.RequestVoteRequest:
		if req.LeadershipTransfer {
			return false
		}
		rpc.Respond(&raft.RequestVoteResponse{RPCHeader: header, Term: term, Granted: false}, nil)
		return true
	case *raft.RequestPreVoteRequest:
		rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: header, Term: term, Granted: false}, nil)
		return true
	}
	return false
}

// Close stops forwarding and closes the wrapped transport.
func (v *voteFence) Close() error {
	v.stopOnce.Do(func() { close(v.stop) })
	<-v.done
	return v.NetworkTransport.Close()
}
