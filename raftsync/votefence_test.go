package raftsync

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fenceRig is a vote fence on a real loopback raft transport, and a second
// transport that sends raft RPCs to it as a peer would.
type fenceRig struct {
	fence   *voteFence
	peer    *raft.NetworkTransport
	asked   atomic.Int32
	confirm func(ctx context.Context) error
}

func newFenceRig(t *testing.T, restartFence, window time.Duration, confirm func(ctx context.Context) error) *fenceRig {
	t.Helper()
	inner, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, 5*time.Second, io.Discard)
	if err != nil {
		inner.Close()
		t.Fatal(err)
	}
	r := &fenceRig{peer: peer, confirm: confirm}
	answer := func() (raft.RPCHeader, uint64) { return raft.RPCHeader{ID: []byte("self")}, 7 }
	r.fence = newVoteFence(inner, restartFence, answer, func(ctx context.Context, _ any, _ time.Duration) error {
		r.asked.Add(1)
		return r.confirm(ctx)
	}, window)
	t.Cleanup(func() {
		peer.CloseStreams()
		peer.Close()
		r.fence.CloseStreams()
		r.fence.Close()
	})
	return r
}

func (r *fenceRig) timeoutNow() <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- r.peer.TimeoutNow("self", r.fence.LocalAddr(), &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{Addr: []byte("leader")}}, &raft.TimeoutNowResponse{})
	}()
	return done
}

func (r *fenceRig) vote(flag bool) <-chan *raft.RequestVoteResponse {
	done := make(chan *raft.RequestVoteResponse, 1)
	go func() {
		var resp raft.RequestVoteResponse
		err := r.peer.RequestVote("self", r.fence.LocalAddr(), &raft.RequestVoteRequest{Term: 8, LeadershipTransfer: flag}, &resp)
		if err != nil {
			resp.Granted = false
		}
		done <- &resp
	}()
	return done
}

// nothingForwarded checks that no RPC waits on the fence's consumer.
func (r *fenceRig) nothingForwarded(t *testing.T) {
	t.Helper()
	select {
	case rpc := <-r.fence.Consumer():
		t.Fatalf("fence handed %T to raft", rpc.Command)
	default:
	}
}

func TestVoteFenceDropsUnconfirmedTimeoutNow(t *testing.T) {
	r := newFenceRig(t, 0, time.Second, func(context.Context) error { return errTransferNotConfirmed })
	if err := <-r.timeoutNow(); err == nil {
		t.Fatal("an unconfirmed TimeoutNow was answered without error")
	}
	r.nothingForwarded(t)
	if r.asked.Load() != 1 {
		t.Fatalf("confirm called %d times, want 1", r.asked.Load())
	}
	if !r.fence.promising() {
		t.Fatal("the fence still withholds promises after the check ended")
	}
}

func TestVoteFenceDropsTimeoutNowConfirmedTooLate(t *testing.T) {
	// The leader's yes never comes within the window: the fence gives up
	// when the window ends.
	r := newFenceRig(t, 0, 50*time.Millisecond, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err := <-r.timeoutNow(); err == nil {
		t.Fatal("a TimeoutNow whose check outlived the window was answered without error")
	}
	r.nothingForwarded(t)
}

func TestVoteFenceForwardsConfirmedTimeoutNowAndWithholdsPromises(t *testing.T) {
	r := newFenceRig(t, 0, 5*time.Second, func(context.Context) error { return nil })
	done := r.timeoutNow()
	var rpc raft.RPC
	select {
	case rpc = <-r.fence.Consumer():
	case <-time.After(5 * time.Second):
		t.Fatal("a confirmed TimeoutNow was not handed to raft")
	}
	if _, ok := rpc.Command.(*raft.TimeoutNowRequest); !ok {
		t.Fatalf("fence handed %T to raft", rpc.Command)
	}
	if r.fence.promising() {
		t.Fatal("the fence lets the node promise while raft handles a TimeoutNow")
	}
	rpc.Respond(&raft.TimeoutNowResponse{}, nil)
	if err := <-done; err != nil {
		t.Fatalf("TimeoutNow answered %v after raft accepted it", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !r.fence.promising() {
		if time.Now().After(deadline) {
			t.Fatal("the fence still withholds promises after raft answered")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestVoteFenceChecksOnlyFlaggedVotes(t *testing.T) {
	r := newFenceRig(t, 0, time.Second, func(context.Context) error { return errTransferNotConfirmed })
	if resp := <-r.vote(true); resp.Granted {
		t.Fatal("an unconfirmed transfer vote was granted")
	}
	r.nothingForwarded(t)

	// An ordinary vote request goes to raft unchecked.
	done := r.vote(false)
	select {
	case rpc := <-r.fence.Consumer():
		rpc.Respond(&raft.RequestVoteResponse{Term: 8, Granted: true}, nil)
	case <-time.After(5 * time.Second):
		t.Fatal("an ordinary vote request was not handed to raft")
	}
	if resp := <-done; !resp.Granted {
		t.Fatal("raft's grant did not reach the candidate")
	}
	if r.asked.Load() != 1 {
		t.Fatalf("confirm called %d times, want 1 (flagged vote only)", r.asked.Load())
	}
}

func TestVoteFenceRestartHoldsEveryVoteUntilLifted(t *testing.T) {
	r := newFenceRig(t, time.Hour, time.Second, func(context.Context) error { return nil })
	// A TimeoutNow is not a vote: confirmed, it reaches raft at once.
	done := r.timeoutNow()
	select {
	case rpc := <-r.fence.Consumer():
		rpc.Respond(&raft.TimeoutNowResponse{}, nil)
	case <-time.After(5 * time.Second):
		t.Fatal("a confirmed TimeoutNow inside the restart fence was not handed to raft")
	}
	if err := <-done; err != nil {
		t.Fatalf("a confirmed TimeoutNow inside the restart fence: %v", err)
	}
	votes := r.vote(false)
	// Held: nothing reaches raft before the lift.
	r.nothingForwarded(t)
	if r.asked.Load() != 1 {
		t.Fatalf("confirm called %d times, want 1 (the TimeoutNow only)", r.asked.Load())
	}
	r.fence.lift()
	select {
	case rpc := <-r.fence.Consumer():
		if _, ok := rpc.Command.(*raft.RequestVoteRequest); !ok {
			t.Fatalf("fence handed %T to raft, want the held vote", rpc.Command)
		}
		rpc.Respond(&raft.RequestVoteResponse{Term: 8, Granted: true}, nil)
	case <-time.After(5 * time.Second):
		t.Fatal("the vote held by the restart fence was not handed to raft once lifted")
	}
	if resp := <-votes; !resp.Granted {
		t.Fatalf("raft's answer to the held vote did not reach the candidate: %+v", resp)
	}
}
