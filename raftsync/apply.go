package raftsync

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"runtime/debug"
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
	// Apply returns it as its error. A forwarded response whose encoding
	// fails, panics or exceeds the RPC body limit (Config.MaxCommandSize
	// plus 64 KiB) is not returned: Apply reports ErrCommittedNoResponse
	// with the Index.
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
// unknown (leadership lost after the append, the forward's answer lost or
// replaced by the RPC layer, the leader failing after the append, ctx
// ended mid-commit or the node closed during it); ErrCommittedNoResponse
// when the leader committed the command but could not send its response
// back (the ApplyResult carries the Index; do not retry). When the
// application's FSM returned an error for the command, the command is
// committed, the ApplyResult carries its Index and the error is returned:
// the FSM's own error value on the leader, an *ApplyError carrying its text
// when forwarded. An error wrapping ErrTooLarge, ErrNoLeader, ErrClosed or
// ErrTimeout but not ErrIndeterminate means that nothing was applied.
func (n *Node) Apply(ctx context.Context, cmd []byte) (ApplyResult, error) {
	if n.closed.Load() {
		return ApplyResult{}, ErrClosed
	}
	if len(cmd) > n.cfg.MaxCommandSize {
		return ApplyResult{}, fmt.Errorf("%w: %d bytes, limit %d (Config.MaxCommandSize)", ErrTooLarge, len(cmd), n.cfg.MaxCommandSize)
	}
	if err := ctx.Err(); err != nil {
		// Nothing was sent: the caller's own error, not an unknown outcome.
		return ApplyResult{}, fmt.Errorf("raftsync: apply not started: %w", err)
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
		if err := n.awaitLeaderChange(ctx, ep, attempt, err); err != nil {
			return ApplyResult{}, err
		}
	}
}

// awaitLeaderChange waits, before a retry, for a new epoch or a short
// backoff, and turns the end of ctx into ErrNoLeader. cause is the refusal
// that prompted the retry: after a node that is closing or starting
// (errPeerClosing) the same node is asked again only after
// HeartbeatTimeout, unless the epoch changes first, by which time a
// closing node has gone and the followers have noticed.
func (n *Node) awaitLeaderChange(ctx context.Context, ep *epoch, attempt int, cause error) error {
	d := backoff(attempt)
	if errors.Is(cause, errPeerClosing) {
		d = max(d, n.heartbeatTimeout)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ep.replaced:
	case <-t.C:
	case <-ctx.Done():
		return noLeaderError(ctx, cause)
	case <-n.ctx.Done():
		return ErrClosed
	}
	return nil
}

// noLeaderError is the error of a call that needed the leader when ctx
// ended before one answered: ErrNoLeader and ctx's error, with the last
// refusal's text (not its identity: it was a reason to retry).
func noLeaderError(ctx context.Context, cause error) error {
	if cause == nil || cause == errRetryElsewhere {
		return wrapf([]error{ErrNoLeader, ctx.Err()}, "no known leader: %v", ctx.Err())
	}
	return wrapf([]error{ErrNoLeader, ctx.Err()}, "no known leader: %v (last attempt: %v)", ctx.Err(), cause)
}

// applyLocal applies cmd on this node, which believes it is the leader.
func (n *Node) applyLocal(ctx context.Context, cmd []byte) (ApplyResult, error) {
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return ApplyResult{}, fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
		}
	}
	if !n.futures.begin() {
		// Closing: nothing handed to raft. A forwarding node reads this
		// as CodeClosed and asks the next leader.
		return ApplyResult{}, wrapf([]error{ErrClosed}, "node closed: the write was not started")
	}
	defer n.futures.end()
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
		return retryElsewhere(err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return wrapf([]error{ErrIndeterminate, ErrClosed}, "outcome of write unknown: node closed while it was under way")
	default:
		// raft.ErrLeadershipLost, ctx's error, anything else.
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
	frameType, err := n.callFrame(ctx, addr, req, &resp)
	if err != nil {
		if errors.Is(err, rpc.ErrNotSent) {
			return ApplyResult{}, fmt.Errorf("%w: %w", errRetryElsewhere, err)
		}
		return ApplyResult{}, fmt.Errorf("%w: forwarding to %s: %w", ErrIndeterminate, addr, err)
	}
	return forwardedApplyResult(frameType, &resp)
}

// forwardedApplyResult reads the leader's answer to a forwarded Apply. An
// answer other than success says "nothing applied" only when it can only
// come from a refusal made before the command reached raft's log:
//
//   - an ApplyResponse carrying an Index (non-zero) means the command was
//     committed at that index and only its response was lost: the result
//     carries the Index and the error wraps ErrCommittedNoResponse;
//   - CodeNotLeader, CodeNoLeader (handleApply refuses before raft sees the
//     command, or raft refused it before appending) and CodeClosed,
//     CodeBadRequest (handleRPC refuses before handleApply runs) mean
//     nothing was applied;
//   - CodeTooLarge and CodeTimeout mean nothing was applied only in an
//     ApplyResponse frame, where handleApply put them (the command over the
//     leader's limit, raft's enqueue timeout). In a TypeError frame they
//     come from the RPC layer, which replaces a response it cannot send:
//     the command may have been committed;
//   - everything else (CodeIndeterminate, CodeInternal from a recovered
//     panic, codes this node does not know) wraps ErrIndeterminate.
func forwardedApplyResult(frameType wire.Type, resp *wire.ApplyResponse) (ApplyResult, error) {
	if !resp.Status.OK() {
		if resp.Index != 0 {
			return ApplyResult{Index: resp.Index}, fmt.Errorf("%w (index %d): %s", ErrCommittedNoResponse, resp.Index, resp.Status.Message)
		}
		switch resp.Status.Code {
		case wire.CodeNotLeader, wire.CodeNoLeader, wire.CodeClosed, wire.CodeBadRequest:
			return ApplyResult{}, statusError(resp.Status)
		case wire.CodeTooLarge, wire.CodeTimeout:
			if frameType == wire.TypeApplyResponse {
				return ApplyResult{}, statusError(resp.Status)
			}
		case wire.CodeIndeterminate:
			return ApplyResult{}, statusError(resp.Status)
		}
		// The remote code is named, not wrapped: its sentinel (ErrTooLarge,
		// ErrTimeout) would claim that nothing was applied.
		return ApplyResult{}, fmt.Errorf("%w: the leader answered %v after it may have appended the command: %s", ErrIndeterminate, resp.Status.Code, resp.Status.Message)
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
//
// Once raft has given the command an index, every answer carries that
// Index: a failure to build the response then (an encoding that fails or
// panics) is answered with the Index and a non-OK Status, which the caller
// reads as ErrCommittedNoResponse. A panic before that is answered with
// CodeIndeterminate: the command may have been appended.
func (n *Node) handleApply(ctx context.Context, req *wire.ApplyRequest) (resp *wire.ApplyResponse) {
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
	var index uint64
	defer func() {
		if p := recover(); p != nil {
			n.logger.Error("panic while answering a forwarded Apply", "index", index, "panic", p, "stack", string(debug.Stack()))
			resp = &wire.ApplyResponse{Index: index, Status: wire.Status{Code: wire.CodeInternal, Message: fmt.Sprintf("building the response panicked: %v", p)}}
			if index == 0 {
				resp.Status.Code = wire.CodeIndeterminate
			}
		}
	}()
	res, err := n.applyLocal(ctx, req.Command)
	index = res.Index
	resp = &wire.ApplyResponse{Index: res.Index}
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
			resp.Status = wire.Status{Code: wire.CodeInternal, Message: "encoding the FSM response: " + merr.Error()}
		} else {
			resp.ResultKind, resp.Result = wire.ResultBytes, b
		}
	default:
		resp.ResultKind, resp.Result = wire.ResultString, []byte(fmt.Sprint(v))
	}
	return resp
}

// encodeApplyAnswer encodes the answer to a forwarded Apply. An answer
// that does not fit the RPC body limit, or does not encode, is replaced by
// one that still tells the caller what is known: the command's Index when
// it has one (ErrCommittedNoResponse at the caller), else
// CodeIndeterminate. The RPC layer's own replacement (a bare CodeTooLarge)
// would lose the Index.
func (n *Node) encodeApplyAnswer(id uint64, resp *wire.ApplyResponse) wire.Frame {
	f, err := wire.Encode(id, resp)
	switch {
	case err != nil:
		n.logger.Error("encoding the answer to a forwarded Apply", "index", resp.Index, "error", err)
		err = fmt.Errorf("encoding the response: %w", err)
	case len(f.Body) > n.maxRPCBody():
		n.logger.Warn("the response to a forwarded Apply exceeds the RPC body limit; answering without it",
			"index", resp.Index, "size", len(f.Body), "max_body", n.maxRPCBody())
		err = fmt.Errorf("response of %d bytes exceeds the RPC body limit of %d (Config.MaxCommandSize + %d)", len(f.Body), n.maxRPCBody(), rpcFrameOverhead)
	default:
		return f
	}
	code := wire.CodeTooLarge
	if resp.Index == 0 {
		code = wire.CodeIndeterminate
	}
	return n.encodeAnswer(id, &wire.ApplyResponse{Index: resp.Index, Status: wire.Status{Code: code, Message: err.Error()}})
}
