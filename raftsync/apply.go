package raftsync

import (
	"context"
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
	// Response is what the application's FSM returned for the command, in
	// the form Config.ResponseCodec gives it, the same Go type and value on
	// every node: the leader encodes the FSM's value and the calling node
	// decodes it, the leader included. With the DefaultResponseCodec it is
	// nil, a []byte or a string: []byte and string unchanged, a value that
	// implements encoding.BinaryMarshaler as its []byte encoding, any other
	// value as its fmt %v string (an int 4 is "4"). An error is not a
	// Response: Apply returns it as an *ApplyError. A response whose
	// encoding or decoding fails or panics, or whose encoding exceeds the
	// RPC body limit (Config.MaxCommandSize plus 64 KiB) when forwarded,
	// is not returned: Apply reports ErrCommittedNoResponse with the Index.
	// See docs/apply.md.
	Response any
}

// Apply commits cmd to the replicated log and returns once the leader's FSM
// has applied it. It works on any node: a follower or non-voter forwards the
// command to the current leader and returns the leader's result. The
// command is never sent twice: a forward is retried only when the target
// proved it did nothing (it was not the leader, or it was closing or still
// starting). Apply waits for a leader within ctx: when the leader closes
// or loses its leadership, the call goes to the next one.
//
// A ctx already ended when Apply is called returns ctx's error (nothing
// sent). Cancelling ctx later stops the wait, not a commit already under
// way; the error then wraps ErrIndeterminate as well as ctx's error.
//
// Errors: ErrClosed (this node is closed, never another); ErrTooLarge
// (nothing applied); ErrNoLeader (with ctx's error) when no leader took
// the command before ctx ended; ErrIndeterminate when the outcome is
// unknown (leadership lost after the append, the forward's answer lost or
// replaced by the RPC layer, the leader failing after the append, ctx
// ended mid-commit or the node closed during it); ErrCommittedNoResponse
// when the leader committed the command but could not send its response
// back (the ApplyResult carries the Index; do not retry). When the
// application's FSM returned an error for the command, the command is
// committed, the ApplyResult carries its Index and the error is an
// *ApplyError on every node, unwrapping to the sentinel registered in
// Config.ApplyErrors that it matched. An error wrapping ErrTooLarge,
// ErrNoLeader, ErrClosed or ErrTimeout but not ErrIndeterminate, or only
// ctx's error, means that nothing was applied.
func (n *Node) Apply(ctx context.Context, cmd []byte) (ApplyResult, error) {
	if n.life.closed.Load() {
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
		ep := n.lead.epoch.Load()
		var res ApplyResult
		var err error
		switch {
		case n.raft.State() == raft.Leader:
			var raw any
			if res.Index, raw, err = n.applyLocal(ctx, cmd); err == nil {
				res, err = n.localAnswer(res.Index, raw)
			}
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
		d = max(d, n.lead.heartbeatTimeout)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ep.replaced:
	case <-t.C:
	case <-ctx.Done():
		return noLeaderError(ctx, cause)
	case <-n.life.ctx.Done():
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

// applyLocal applies cmd on this node, which believes it is the leader,
// and returns its index and what the FSM returned for it, unconverted.
// An error means raft did not apply it, or its outcome is unknown.
func (n *Node) applyLocal(ctx context.Context, cmd []byte) (uint64, any, error) {
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return 0, nil, fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
		}
	}
	if !n.life.futures.begin() {
		// Closing: nothing handed to raft. A forwarding node reads this
		// as CodeClosed and asks the next leader.
		return 0, nil, wrapf([]error{ErrClosed}, "node closed: the write was not started")
	}
	defer n.life.futures.end()
	f := n.raft.Apply(cmd, timeout)
	if err := n.life.futures.wait(ctx, f); err != nil {
		return 0, nil, applyError(err)
	}
	return f.Index(), f.Response(), nil
}

// localAnswer turns what the FSM returned for the command at index into
// Apply's result on the leader, the way a forwarding node gets it: an
// error as an *ApplyError, any other value through the ResponseCodec's
// encoding and decoding.
func (n *Node) localAnswer(index uint64, raw any) (ApplyResult, error) {
	res := ApplyResult{Index: index}
	switch v := raw.(type) {
	case nil:
		return res, nil
	case error:
		return res, n.applyErrors().newApplyError(index, v)
	case string:
		if n.cfg.ResponseCodec == nil {
			// DefaultResponseCodec carries a string unchanged: its round
			// trip would return an equal string, at two allocations.
			res.Response = raw
			return res, nil
		}
	}
	data, err := n.encodeResponse(raw)
	if err == nil {
		res.Response, err = n.decodeResponse(data)
	}
	if err != nil {
		return ApplyResult{Index: index}, fmt.Errorf("%w (index %d): %w", ErrCommittedNoResponse, index, err)
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
func (n *Node) forwardApply(ctx context.Context, addr string, cmd []byte) (_ ApplyResult, err error) {
	defer func() { n.stats.forwardedWrite(err) }()
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
	return n.forwardedApplyResult(frameType, &resp)
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
func (n *Node) forwardedApplyResult(frameType wire.Type, resp *wire.ApplyResponse) (ApplyResult, error) {
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
		v, err := n.decodeResponse(resp.Result)
		if err != nil {
			return ApplyResult{Index: resp.Index}, fmt.Errorf("%w (index %d): %w", ErrCommittedNoResponse, resp.Index, err)
		}
		res.Response = v
	case wire.ResultString:
		// Not sent by this version (every response crosses as the
		// codec's bytes); read as the text it is.
		res.Response = string(resp.Result)
	case wire.ResultError:
		return res, n.applyErrors().decode(resp.Index, resp.Result)
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
	idx, raw, err := n.applyLocal(ctx, req.Command)
	index = idx
	resp = &wire.ApplyResponse{Index: idx}
	if err != nil {
		if errors.Is(err, errRetryElsewhere) {
			err = n.notLeader()
		}
		resp.Status = n.errorStatus(err)
		return resp
	}
	switch v := raw.(type) {
	case nil:
	case error:
		resp.ResultKind, resp.Result = wire.ResultError, n.applyErrors().encode(v)
	default:
		data, err := n.encodeResponse(v)
		if err != nil {
			resp.Status = wire.Status{Code: wire.CodeInternal, Message: "encoding the FSM response: " + detail(err)}
		} else {
			resp.ResultKind, resp.Result = wire.ResultBytes, data
		}
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
