package raftsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/wire"
)

// join asks the Config's Join targets, in turn and until ctx ends, to add
// this node. A target that is not the leader answers with the leader's
// address, which is tried next.
func (n *Node) join(ctx context.Context) error {
	want := n.ClusterID()
	if want == "" {
		// A certificate that binds this node to a cluster says which one
		// it may join.
		want = n.certificateCluster()
	}
	req := &wire.JoinRequest{ID: n.cfg.ID, Addr: n.advertise, NonVoter: n.cfg.NonVoter, ClusterID: want}
	var lastErr error
	targets := append([]string(nil), n.cfg.Join...)
	for attempt := 0; ; attempt++ {
		for i := 0; i < len(targets); i++ {
			addr := targets[i]
			var resp wire.JoinResponse
			err := n.call(ctx, addr, req, &resp)
			if err == nil {
				err = statusError(resp.Status)
			}
			if err == nil && want != "" && resp.ClusterID != want {
				// The member checks too; this is the joiner's own check.
				return fmt.Errorf("%w: joined cluster %q via %s, expected %q", ErrClusterMismatch, resp.ClusterID, addr, want)
			}
			if err == nil {
				if n.ClusterID() == "" {
					n.setClusterID(resp.ClusterID)
				}
				if err := n.store.setClusterID(n.ClusterID()); err != nil {
					return err
				}
				n.logger.Info("joined cluster", "via", addr, "cluster_id", n.ClusterID(), "index", resp.Index)
				return nil
			}
			if errors.Is(err, ErrClusterMismatch) || errors.Is(err, ErrPermissionDenied) || errors.Is(err, mux.ErrRefused) {
				// Asking again, or another member, cannot change the answer.
				return fmt.Errorf("raftsync: joining via %s: %w", addr, err)
			}
			var nle *NotLeaderError
			if errors.As(err, &nle) && nle.LeaderAddr != "" && nle.LeaderAddr != addr {
				targets = append(targets, nle.LeaderAddr)
			}
			lastErr = fmt.Errorf("joining via %s: %w", addr, err)
			n.logger.Debug("join attempt failed", "target", addr, "error", err)
			if ctx.Err() != nil {
				break
			}
		}
		targets = append(targets[:0], n.cfg.Join...)
		if !sleepCtx(ctx, backoff(attempt)) {
			return fmt.Errorf("raftsync: could not join any of %v before the context ended: %w (last error: %w)", n.cfg.Join, ctx.Err(), lastErr)
		}
	}
}

// handleJoin adds the requesting node on the leader. Re-joining with the
// same ID, address and role is a no-op; a changed address or role replaces
// the old entry.
func (n *Node) handleJoin(ctx context.Context, req *wire.JoinRequest) *wire.JoinResponse {
	// An empty ClusterID is a new node that takes the cluster's; what
	// binds it to a cluster then is its certificate (authorizeJoin). A
	// node that does not know its own cluster cannot vouch for one.
	if n.ClusterID() == "" || (req.ClusterID != "" && req.ClusterID != n.ClusterID()) {
		err := fmt.Errorf("%w: joining node belongs to cluster %q, this is %q", ErrClusterMismatch, req.ClusterID, n.ClusterID())
		return &wire.JoinResponse{Status: n.errorStatus(err)}
	}
	if req.ID == "" || req.Addr == "" {
		return &wire.JoinResponse{Status: wire.Status{Code: wire.CodeBadRequest, Message: "join needs an ID and an address"}}
	}
	if n.raft.State() != raft.Leader {
		return &wire.JoinResponse{Status: n.errorStatus(n.notLeader())}
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return &wire.JoinResponse{Status: n.errorStatus(fmt.Errorf("%w: %w", errRetryElsewhere, err))}
	}
	wantSuffrage := raft.Voter
	if req.NonVoter {
		wantSuffrage = raft.Nonvoter
	}
	for _, s := range cf.Configuration().Servers {
		if s.ID == raft.ServerID(req.ID) && s.Address == raft.ServerAddress(req.Addr) && s.Suffrage == wantSuffrage {
			return &wire.JoinResponse{ClusterID: n.ClusterID(), Index: cf.Index()}
		}
	}
	timeout := requestTimeout(ctx, 0)
	var f raft.IndexFuture
	if req.NonVoter {
		f = n.raft.AddNonvoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, timeout)
	} else {
		f = n.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, timeout)
	}
	if err := n.futures.wait(ctx, f); err != nil {
		return &wire.JoinResponse{Status: n.errorStatus(applyError(err))}
	}
	n.logger.Info("added member", "member", req.ID, "addr", req.Addr, "non_voter", req.NonVoter)
	return &wire.JoinResponse{ClusterID: n.ClusterID(), Index: f.Index()}
}

// RemoveServer removes the member id from the cluster, through the leader.
// It is meant for members that are gone for good; a live member should call
// Leave itself. Removing an ID that is not a member succeeds.
//
// Errors: ErrClosed, ErrNoLeader when no leader answers before ctx ends,
// ErrIndeterminate when the removal's outcome is unknown.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if n.closed.Load() {
		return ErrClosed
	}
	if id == "" {
		return fmt.Errorf("raftsync: RemoveServer: empty id")
	}
	return n.viaLeader(ctx, func(addr string) error {
		if addr == "" {
			return n.removeLocal(ctx, id)
		}
		var resp wire.RemoveResponse
		if err := n.call(ctx, addr, &wire.RemoveRequest{ID: id, Timeout: requestTimeout(ctx, 0)}, &resp); err != nil {
			return forwardError(err)
		}
		return statusError(resp.Status)
	})
}

func (n *Node) removeLocal(ctx context.Context, id string) error {
	f := n.raft.RemoveServer(raft.ServerID(id), 0, requestTimeout(ctx, 0))
	if err := n.futures.wait(ctx, f); err != nil {
		return applyError(err)
	}
	n.logger.Info("removed member", "member", id)
	return nil
}

func (n *Node) handleRemove(ctx context.Context, req *wire.RemoveRequest) *wire.RemoveResponse {
	if req.ID == "" {
		return &wire.RemoveResponse{Status: wire.Status{Code: wire.CodeBadRequest, Message: "remove needs an ID"}}
	}
	if n.raft.State() != raft.Leader {
		return &wire.RemoveResponse{Status: n.errorStatus(n.notLeader())}
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	if err := n.removeLocal(ctx, req.ID); err != nil {
		return &wire.RemoveResponse{Status: n.errorStatus(err)}
	}
	return &wire.RemoveResponse{Index: n.raft.LastIndex()}
}

// Leave removes this node from the cluster and closes it. A leader first
// hands leadership to another voter (its lease ends before the hand-over
// starts), so the cluster does not wait out an election. After Leave the
// Dir no longer belongs to a cluster member; re-opening it is not a way
// back in.
//
// Errors: ErrClosed; ErrNoLeader or ErrIndeterminate when the removal could
// not be confirmed before ctx ended (the node is then still open).
func (n *Node) Leave(ctx context.Context) error {
	if n.closed.Load() {
		return ErrClosed
	}
	if n.raft.State() == raft.Leader && n.voterCount() > 1 {
		if err := n.TransferLeadership(ctx); err != nil {
			n.logger.Warn("leadership transfer before leave failed; removing self as leader", "error", err)
		}
	}
	if err := n.RemoveServer(ctx, n.cfg.ID); err != nil {
		return fmt.Errorf("raftsync: leave: %w", err)
	}
	n.logger.Info("left the cluster")
	return n.Close()
}

// TransferLeadership hands leadership to another voter. The lease is
// suspended before the transfer starts (the transfer target is allowed to
// win votes from followers that still know this leader, so a lease would no
// longer be safe) and stays void in this node's term.
//
// Errors: ErrClosed, a *NotLeaderError when this node is not the leader,
// raft's error when the transfer fails.
func (n *Node) TransferLeadership(ctx context.Context) error {
	if n.closed.Load() {
		return ErrClosed
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	resume := n.lease.Suspend()
	defer resume()
	if err := n.futures.wait(ctx, n.raft.LeadershipTransfer()); err != nil {
		return fmt.Errorf("raftsync: leadership transfer: %w", err)
	}
	return nil
}

func (n *Node) voterCount() int {
	p := n.voters.Load()
	if p == nil {
		return 0
	}
	c := 0
	for _, s := range *p {
		if s.Suffrage == raft.Voter {
			c++
		}
	}
	return c
}

// viaLeader runs do against the current leader (addr "" means this node
// is the leader), retrying after a leader change while the refusals prove
// nothing happened.
func (n *Node) viaLeader(ctx context.Context, do func(addr string) error) error {
	for attempt := 0; ; attempt++ {
		ep := n.epoch.Load()
		var err error
		switch {
		case n.raft.State() == raft.Leader:
			err = do("")
		case ep.leaderAddr != "":
			err = do(ep.leaderAddr)
		default:
			err = errRetryElsewhere
		}
		if err == nil || !errors.Is(err, errRetryElsewhere) {
			return err
		}
		if err := n.awaitLeaderChange(ctx, ep, attempt); err != nil {
			return err
		}
	}
}

// forwardError classifies a failed forward.
func forwardError(err error) error {
	if isNotSent(err) {
		return fmt.Errorf("%w: %w", errRetryElsewhere, err)
	}
	return fmt.Errorf("%w: %w", ErrIndeterminate, err)
}

// requestTimeout is the time left before ctx's deadline, or def.
func requestTimeout(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return def
}
