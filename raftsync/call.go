package raftsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/internal/wire"
)

// errRetryElsewhere marks a refusal that proves the request had no effect
// (the target was not the leader, or knew none): the caller may try again,
// at the leader it now knows.
var errRetryElsewhere = errors.New("raftsync: refused by a node that is not the leader")

// retryElsewhere marks err as a refusal that proves nothing was done
// (errRetryElsewhere), keeping err's text as the whole message.
func retryElsewhere(err error) error {
	return &wrapped{msg: err.Error(), errs: []error{errRetryElsewhere, err}}
}

// call sends req to addr over the node RPC and decodes the answer into
// resp, whose Status the caller inspects. Transport failures come back as
// errors wrapping rpc.ErrNotSent (certainly not delivered) or
// rpc.ErrNoResponse (delivered or not, unknown).
func (n *Node) call(ctx context.Context, addr string, req, resp wire.Message) error {
	_, err := n.callFrame(ctx, addr, req, resp)
	return err
}

// callFrame is call that also returns the type of the answer's frame: a
// TypeError frame (a bare Status) rather than resp's own type tells an
// answer the RPC layer or handleRPC made from one the handler made.
func (n *Node) callFrame(ctx context.Context, addr string, req, resp wire.Message) (wire.Type, error) {
	f, err := wire.Encode(n.rpcSeq.Add(1), req)
	if err != nil {
		return 0, fmt.Errorf("raftsync: encoding %v: %w", req.MessageType(), err)
	}
	out, err := n.rpcCli.Call(ctx, addr, f)
	if err != nil {
		return 0, err
	}
	if err := wire.Decode(out, resp); err != nil {
		return 0, fmt.Errorf("%w: decoding answer from %s: %w", rpc.ErrNoResponse, addr, err)
	}
	return out.Type, nil
}

// maxRPCBody bounds the body of every node RPC frame, requests and
// answers alike, on the server and the client.
func (n *Node) maxRPCBody() int { return n.cfg.MaxCommandSize + rpcFrameOverhead }

// errPeerClosing marks a refusal from a node that is closing or still
// starting: handleRPC answers so before it decodes the request, and a
// closing leader after it stopped taking changes, so nothing was done and
// the caller may ask the next leader. It wraps errRetryElsewhere; it is
// never ErrClosed, which names the caller's own node.
var errPeerClosing = fmt.Errorf("%w: the node asked is closing or still starting", errRetryElsewhere)

// statusError turns a non-OK remote Status into the node's error values.
// The remote message is kept without the prefix of the sentinel it came
// from, which the returned error names already.
func statusError(s wire.Status) error {
	remote := func(sentinel error) error {
		if d := remoteDetail(sentinel, s.Message); d != "" {
			return fmt.Errorf("%w: %s", sentinel, d)
		}
		return sentinel
	}
	switch s.Code {
	case wire.CodeOK:
		return nil
	case wire.CodeNotLeader:
		return retryElsewhere(&NotLeaderError{LeaderID: s.LeaderID, LeaderAddr: s.LeaderAddr})
	case wire.CodeNoLeader:
		return retryElsewhere(remote(ErrNoLeader))
	case wire.CodeClosed:
		return errPeerClosing
	case wire.CodeTooLarge:
		return remote(ErrTooLarge)
	case wire.CodeNotReady:
		return remote(ErrNotReady)
	case wire.CodeTimeout:
		return remote(ErrTimeout)
	case wire.CodeIndeterminate:
		return remote(ErrIndeterminate)
	case wire.CodeMismatch:
		return remote(ErrClusterMismatch)
	case wire.CodePermissionDenied:
		return remote(ErrPermissionDenied)
	case wire.CodeLastVoter:
		return remote(ErrLastVoter)
	default:
		return fmt.Errorf("raftsync: remote error (%v): %s", s.Code, remoteDetail(nil, s.Message))
	}
}

// errorStatus is the inverse of statusError, for answers the node sends.
func (n *Node) errorStatus(err error) wire.Status {
	var nle *NotLeaderError
	switch {
	case err == nil:
		return wire.Status{}
	case errors.As(err, &nle):
		return wire.Status{Code: wire.CodeNotLeader, Message: err.Error(), LeaderID: nle.LeaderID, LeaderAddr: nle.LeaderAddr}
	case errors.Is(err, ErrNoLeader):
		return wire.Status{Code: wire.CodeNoLeader, Message: err.Error()}
	case errors.Is(err, ErrIndeterminate):
		return wire.Status{Code: wire.CodeIndeterminate, Message: err.Error()}
	case errors.Is(err, ErrClosed):
		return wire.Status{Code: wire.CodeClosed, Message: err.Error()}
	case errors.Is(err, ErrTooLarge):
		return wire.Status{Code: wire.CodeTooLarge, Message: err.Error()}
	case errors.Is(err, ErrNotReady):
		return wire.Status{Code: wire.CodeNotReady, Message: err.Error()}
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return wire.Status{Code: wire.CodeTimeout, Message: err.Error()}
	case errors.Is(err, ErrClusterMismatch):
		return wire.Status{Code: wire.CodeMismatch, Message: err.Error()}
	case errors.Is(err, ErrLastVoter):
		return wire.Status{Code: wire.CodeLastVoter, Message: err.Error()}
	default:
		return wire.Status{Code: wire.CodeInternal, Message: err.Error()}
	}
}

// notLeader builds the refusal a non-leader gives, with its leader hint.
func (n *Node) notLeader() error {
	ep := n.epoch.Load()
	return &NotLeaderError{LeaderID: ep.leaderID, LeaderAddr: ep.leaderAddr}
}
