package raftsync

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/internal/wire"
)

// ApplyResult is what a committed command produced.
type ApplyResult struct {
	// Index is the command's log index. Pass it to WaitIndex on any node to
	// read your own write there.
	Index uint64
	// Response is what the application's FSM returned for the command.
	// When the command was applied on this node (this node is the leader)
	// it is the value itself. When the call was forwarded to the leader,
	// only nil, []byte and string cross the network unchanged; a value that
	// implements encoding.BinaryMarshaler arrives as its []byte encoding,
	// and any other value as its fmt %v string. An error is not a Response:
	// Apply returns it as its error.
	Response any
}

// Apply commits cmd to the replicated log and returns once the leader's FSM
// has applied it. It works on any node: a follower or non-voter forwards the
// command to the current leader and returns the leader's result. The
// command is never sent twice: a forward is retried only when the target
// proved it did nothing (it was not the leader).
//
// Cancelling ctx stops the wait, not a commit already under way; the error
// then wraps ErrIndeterminate as well as ctx's error.
//
// Errors: ErrClosed; ErrTooLarge (nothing applied); ErrNoLeader when no
// leader is found before ctx ends; ErrIndeterminate when the outcome is
// unknown (leadership lost after the append, the forward's answer lost, ctx
// ended mid-commit). When the application's FSM returned an error for the
// command, the command is committed, the ApplyResult carries its Index and
// the error is returned: the FSM's own error value on the leader, an
// *ApplyError carrying its text when forwarded.
func (n *Node) Apply(ctx context.Context, cmd []byte) (ApplyResult, error) {
	if n.closed.Load() {
		return ApplyResult{}, ErrClosed
	}
	if len(cmd) > n.cfg.MaxCommandSize {
		return ApplyResult{}, fmt.Errorf("%w: %d bytes, limit %d (Config.MaxCommandSize)", ErrTooLarge, len(cmd), n.cfg.MaxCommandSize)
	}
	for attempt := 0; ; attempt++ {
		ep := n.epoch.Load()
		var res ApplyResult
		var err error
		switch {
		case n.raft.State() == raft.Leader:
			res, err = n.applyLocal(ctx, cmd)
		case ep.leaderAddr != "":
			res, err = n.forwardApply(ctx, ep.leaderAddr, cmd)
		default:
			err = errRetryElsewhere
		}
		if err == nil || !errors.Is(err, errRetryElsewhere) {
			return res, err
		}
		if err := n.awaitLeaderChange(ctx, ep, attempt); err != nil {
			return ApplyResult{}, err
		}
	}
}

// awaitLeaderChange waits for a new epoch or a short backoff before a
// retry, and turns the end of ctx into ErrNoLeader.
func (n *Node) awaitLeaderChange(ctx context.Context, ep *epoch, attempt int) error {
	t := time.NewTimer(backoff(attempt))
	defer t.Stop()
	select {
	case <-ep.replaced:
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
	case <-n.ctx.Done():
		return ErrClosed
	}
	return nil
}

// applyLocal applies cmd on this node, which believes it is the leader.
func (n *Node) applyLocal(ctx context.Context, cmd []byte) (ApplyResult, error) {
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return ApplyResult{}, fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
		}
	}
	f := n.raft.Apply(cmd, timeout)
	if err := n.futures.wait(ctx, f); err != nil {
		return ApplyResult{}, applyError(err)
	}
	res := ApplyResult{Index: f.Index(), Response: f.Response()}
	if err, ok := res.Response.(error); ok {
		res.Response = nil
		return res, err
	}
	return res, nil
}

// applyError maps raft's Apply errors to the node's, keeping the
// distinction between "certainly not applied" (retry is safe) and
// "unknown".
func applyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", errRetryElsewhere, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %w", ErrIndeterminate, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrIndeterminate, ErrClosed)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrIndeterminate, err)
	default:
		return fmt.Errorf("%w: %w", ErrIndeterminate, err)
	}
}

// forwardApply sends cmd to the leader at addr.
func (n *Node) forwardApply(ctx context.Context, addr string, cmd []byte) (ApplyResult, error) {
	req := &wire.ApplyRequest{Command: cmd}
	if dl, ok := ctx.Deadline(); ok {
		req.Timeout = time.Until(dl)
	}
	var resp wire.ApplyResponse
	if err := n.call(ctx, addr, req, &resp); err != nil {
		if errors.Is(err, rpc.ErrNotSent) {
			return ApplyResult{}, fmt.Errorf("%w: %w", errRetryElsewhere, err)
		}
		return ApplyResult{}, fmt.Errorf("%w: forwarding to %s: %w", ErrIndeterminate, addr, err)
	}
	if err := statusError(resp.Status); err != nil {
		return ApplyResult{}, err
	}
	res := ApplyResult{Index: resp.Index}
	switch resp.ResultKind {
	case wire.ResultBytes:
		res.Response = resp.Result
	case wire.ResultString:
		res.Response = string(resp.Result)
	case wire.ResultError:
		return res, &ApplyError{Index: resp.Index, Message: string(resp.Result)}
	}
	return res, nil
}

// handleApply serves a forwarded Apply on the leader. It never forwards
// again: a node that is not the leader refuses, and the caller retries.
func (n *Node) handleApply(ctx context.Context, req *wire.ApplyRequest) *wire.ApplyResponse {
	if len(req.Command) > n.cfg.MaxCommandSize {
		return &wire.ApplyResponse{Status: n.errorStatus(fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(req.Command), n.cfg.MaxCommandSize))}
	}
	if n.raft.State() != raft.Leader {
		return &wire.ApplyResponse{Status: n.errorStatus(n.notLeader())}
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	res, err := n.applyLocal(ctx, req.Command)
	resp := &wire.ApplyResponse{Index: res.Index}
	if err != nil {
		if res.Index == 0 {
			if errors.Is(err, errRetryElsewhere) {
				err = n.notLeader()
			}
			resp.Status = n.errorStatus(err)
			return resp
		}
		resp.ResultKind, resp.Result = wire.ResultError, []byte(err.Error())
		return resp
	}
	switch v := res.Response.(type) {
	case nil:
	case []byte:
		resp.ResultKind, resp.Result = wire.ResultBytes, v
	case string:
		resp.ResultKind, resp.Result = wire.ResultString, []byte(v)
	case encoding.BinaryMarshaler:
		b, merr := v.MarshalBinary()
		if merr != nil {
			resp.ResultKind, resp.Result = wire.ResultError, []byte("raftsync: encoding the FSM response: "+merr.Error())
		} else {
			resp.ResultKind, resp.Result = wire.ResultBytes, b
		}
	default:
		resp.ResultKind, resp.Result = wire.ResultString, []byte(fmt.Sprint(v))
	}
	return resp
}
