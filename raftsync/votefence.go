package raftsync

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// voteFence sits between raft's transport and raft on every node and keeps
// the node's promises to its leader: not to vote for any other candidate
// until HeartbeatTimeout after it last heard from the leader (see
// handleConfirm). hashicorp/raft keeps that promise by itself (followers
// refuse votes while they know a leader) except in two cases, which the
// fence covers:
//
//   - A restart: a node forgets its leader and would grant a vote at once.
//     Until the restart fence ends, the fence holds every RequestVote and
//     RequestPreVote and hands it to raft when the fence ends. The fence
//     ends restartFence after the node starts (one HeartbeatTimeout, the
//     longest promise it can have made), or sooner when lift is called
//     because the promise recorded before the restart is void
//     (electfast.go). The node does not campaign itself before then
//     either: raft waits at least HeartbeatTimeout before a follower's
//     first candidacy, and the early election waits for the lift.
//   - A leadership transfer: a TimeoutNow makes raft campaign at once, and
//     a vote request carrying raft's transfer flag is granted even by a
//     follower that knows a leader. raft sends both without checking that
//     the transfer is still wanted (its TimeoutNow can arrive long after
//     the leader gave up on the transfer, a held TCP segment after any
//     time bound). The fence hands either to raft only when the leader
//     concerned confirms, through confirm, that its transfer is in
//     progress, and only within window of asking (on this node's clock);
//     otherwise it answers with an error (TimeoutNow) or a refused vote.
//     The leader keeps its lease void that long after each yes.
//
// While such a message is being checked or handled by raft (until raft
// has answered it), pending is non-zero and the node promises nothing to
// any leader (handleConfirm): a promise made while a transfer vote may be
// granted could not be kept.
//
// The fence forwards every other RPC unchanged; heartbeats keep raft's
// fast path, which does not go through Consumer.
type voteFence struct {
	*raft.NetworkTransport
	out chan raft.RPC
	// lifted is closed when the restart fence ends; liftTimer ends it
	// at the latest restartFence after the start.
	lifted    chan struct{}
	liftOnce  sync.Once
	liftTimer *time.Timer
	// promises records, before each first promise per leader and term,
	// whom this node promised (handleConfirm); nil in fence-only tests.
	promises *promiseLog
	answer   func() (raft.RPCHeader, uint64)
	confirm  func(ctx context.Context, cmd any, window time.Duration) error
	window   time.Duration

	pending  atomic.Int32 // transfer messages checked or not yet answered by raft
	checking atomic.Bool  // one check at a time; more are refused

	ctx      context.Context // ended by Close
	cancel   context.CancelFunc
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	wg       sync.WaitGroup
}

// newVoteFence wraps t. restartFence is how long after now every vote is
// refused (0 on a first start); answer gives the header and term to
// refuse with; confirm checks a transfer message with its leader (see
// Node.confirmTransfer) and window bounds, from asking, when the fence may
// still hand a confirmed message to raft.
func newVoteFence(t *raft.NetworkTransport, restartFence time.Duration, answer func() (raft.RPCHeader, uint64),
	confirm func(ctx context.Context, cmd any, window time.Duration) error, window time.Duration) *voteFence {
	ctx, cancel := context.WithCancel(context.Background())
	v := &voteFence{
		NetworkTransport: t,
		out:              make(chan raft.RPC),
		lifted:           make(chan struct{}),
		answer:           answer,
		confirm:          confirm,
		window:           window,
		ctx:              ctx,
		cancel:           cancel,
		stop:             make(chan struct{}),
		done:             make(chan struct{}),
	}
	if restartFence <= 0 {
		v.lift()
	} else {
		v.liftTimer = time.AfterFunc(restartFence, v.lift)
	}
	go v.run()
	return v
}

// lift ends the restart fence: held votes go to raft, new ones pass.
func (v *voteFence) lift() {
	v.liftOnce.Do(func() { close(v.lifted) })
}

// fenced reports whether the restart fence still holds votes.
func (v *voteFence) fenced() bool {
	select {
	case <-v.lifted:
		return false
	default:
		return true
	}
}

// Consumer is part of raft.Transport.
func (v *voteFence) Consumer() <-chan raft.RPC { return v.out }

// promising reports whether the node may promise its leader anything now.
func (v *voteFence) promising() bool { return v.pending.Load() == 0 }

func (v *voteFence) run() {
	defer close(v.done)
	in := v.NetworkTransport.Consumer()
	for {
		select {
		case rpc := <-in:
			if v.hold(rpc) {
				continue
			}
			if !v.dispatch(rpc) {
				return
			}
		case <-v.stop:
			return
		}
	}
}

// dispatch hands rpc to raft, or to the transfer check. It returns false
// when the fence stopped first.
func (v *voteFence) dispatch(rpc raft.RPC) bool {
	if isTransferMessage(rpc.Command) {
		v.check(rpc)
		return true
	}
	select {
	case v.out <- rpc:
		return true
	case <-v.stop:
		rpc.Respond(nil, raft.ErrTransportShutdown)
		return false
	}
}

// isTransferMessage reports whether cmd lets raft vote or campaign despite
// a known leader: a TimeoutNow, or a vote request with the transfer flag.
func isTransferMessage(cmd any) bool {
	switch req := cmd.(type) {
	case *raft.TimeoutNowRequest:
		return true
	case *raft.RequestVoteRequest:
		return req.LeadershipTransfer
	}
	return false
}

// hold keeps a vote request that arrives inside the restart fence until
// the fence ends, then dispatches it, and reports whether it did. Holding
// rather than refusing lets a candidate that asks just before the fence
// ends win at once instead of after its election timeout. One request is
// held per connection at most (raft's transport waits for each answer),
// and none beyond restartFence.
func (v *voteFence) hold(rpc raft.RPC) bool {
	if !v.fenced() {
		return false
	}
	switch rpc.Command.(type) {
	case *raft.RequestVoteRequest, *raft.RequestPreVoteRequest:
	default:
		return false
	}
	v.holdUntilLifted(rpc)
	return true
}

// holdUntilLifted dispatches rpc once the fence is lifted. It is apart
// from hold so that only a held request moves to the heap, not every
// request hold looks at.
func (v *voteFence) holdUntilLifted(rpc raft.RPC) {
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		select {
		case <-v.lifted:
			v.dispatch(rpc)
		case <-v.stop:
			rpc.Respond(nil, raft.ErrTransportShutdown)
		}
	}()
}

// reject answers rpc without raft: a refused vote, or err for anything
// else.
func (v *voteFence) reject(rpc raft.RPC, err error) {
	header, term := v.answer()
	switch rpc.Command.(type) {
	case *raft.RequestVoteRequest:
		rpc.Respond(&raft.RequestVoteResponse{RPCHeader: header, Term: term, Granted: false}, nil)
	case *raft.RequestPreVoteRequest:
		rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: header, Term: term, Granted: false}, nil)
	default:
		rpc.Respond(nil, err)
	}
}

// check confirms a transfer message with its leader and hands it to raft
// within the window, on its own goroutine so that the other RPCs keep
// flowing. One check runs at a time; a message arriving meanwhile is
// refused (raft's transfer sends one TimeoutNow, and a candidate one vote
// request per voter).
func (v *voteFence) check(rpc raft.RPC) {
	if !v.checking.CompareAndSwap(false, true) {
		v.reject(rpc, errTransferNotConfirmed)
		return
	}
	v.pending.Add(1)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer v.pending.Add(-1)
		defer v.checking.Store(false)
		deadline := time.Now().Add(v.window)
		ctx, cancel := context.WithDeadline(v.ctx, deadline)
		defer cancel()
		if err := v.confirm(ctx, rpc.Command, v.window); err != nil {
			v.reject(rpc, err)
			return
		}
		// raft answers on a channel of the fence's own, so that pending
		// lasts until raft has acted on the message.
		answered := make(chan raft.RPCResponse, 1)
		fwd := rpc
		fwd.RespChan = answered
		select {
		case v.out <- fwd:
		case <-ctx.Done():
			if v.ctx.Err() != nil {
				rpc.Respond(nil, raft.ErrTransportShutdown)
			} else {
				v.reject(rpc, errTransferNotConfirmed) // the window ran out
			}
			return
		}
		select {
		case r := <-answered:
			rpc.RespChan <- r
		case <-v.stop:
			rpc.Respond(nil, raft.ErrTransportShutdown)
		}
	}()
}

// Close stops forwarding and closes the wrapped transport.
func (v *voteFence) Close() error {
	v.stopOnce.Do(func() {
		if v.liftTimer != nil {
			v.liftTimer.Stop()
		}
		v.cancel()
		close(v.stop)
	})
	<-v.done
	v.wg.Wait()
	return v.NetworkTransport.Close()
}
