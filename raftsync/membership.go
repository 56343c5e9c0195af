package raftsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/wire"
	"github.com/raftkit/raftkit/readiness"
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
				n.membership.joinedAt.Store(resp.Index)
				n.logger.Info("joined cluster", "via", addr, "cluster_id", n.ClusterID(), "index", resp.Index)
				n.role.joined(!n.cfg.NonVoter && n.introduceAsNonVoter())
				return nil
			}
			if errors.Is(err, ErrClusterMismatch) || errors.Is(err, ErrPermissionDenied) || errors.Is(err, mux.ErrRefused) {
				// Asking again, or another member, cannot change the answer.
				return wrapf([]error{err}, "joining via %s: %v", addr, err)
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
			return n.joinGaveUp(ctx, lastErr)
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
		// A voter-to-be already in as a non-voter waits for autopilot.
		if s.ID == raft.ServerID(req.ID) && s.Address == raft.ServerAddress(req.Addr) &&
			(s.Suffrage == wantSuffrage || (!req.NonVoter && n.introduceAsNonVoter())) {
			return &wire.JoinResponse{ClusterID: n.ClusterID(), Index: cf.Index()}
		}
	}
	if !n.futures.begin() {
		return &wire.JoinResponse{Status: wire.Status{Code: wire.CodeClosed, Message: "node closing"}}
	}
	defer n.futures.end()
	timeout := requestTimeout(ctx, 0)
	var f raft.IndexFuture
	if req.NonVoter || n.introduceAsNonVoter() {
		// A voter joins as a non-voter and autopilot promotes it once it
		// is stable (raft keeps a voter's suffrage on AddNonvoter).
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
// It waits for a leader within ctx: a leader that closes or loses its
// leadership before it took the change is replaced by the next one.
//
// Errors: ErrClosed (this node is closed); ctx's error when ctx had ended
// before anything was sent; ErrLastVoter when id is the cluster's only
// voter (nothing changed); ErrNoLeader when no leader answers before ctx
// ends; ErrIndeterminate when the removal's outcome is unknown.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if n.closed.Load() {
		return ErrClosed
	}
	if id == "" {
		return fmt.Errorf("raftsync: RemoveServer: empty id")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("raftsync: removal not started: %w", err)
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

// removeLocal removes id on the leader, for RemoveServer, a forwarded
// RemoveRequest and Leave alike. Once the removal commits, the removed
// server is told (notifyRemoved) in the background.
//
// Removing the only voter is refused with ErrLastVoter before raft sees
// it: raft refuses it too, but with an error that does not say whether
// anything was appended.
func (n *Node) removeLocal(ctx context.Context, id string) error {
	var addr string
	if servers, err := n.latestServers(); err == nil {
		if lastVoter(servers, id) {
			return wrapf([]error{ErrLastVoter}, "cannot remove the last voter: %s is the cluster's only voter", id)
		}
		for _, s := range servers {
			if string(s.ID) == id {
				addr = string(s.Address)
			}
		}
	}
	if !n.futures.begin() {
		return wrapf([]error{ErrClosed}, "node closed: the removal was not started")
	}
	defer n.futures.end()
	f := n.raft.RemoveServer(raft.ServerID(id), 0, requestTimeout(ctx, 0))
	if err := n.futures.wait(ctx, f); err != nil {
		return applyError(err)
	}
	n.logger.Info("removed member", "member", id)
	if addr != "" && id != n.cfg.ID {
		n.startRemovedNotice(id, addr, f.Index())
	}
	return nil
}

// lastVoter reports whether id is the only voter among servers.
func lastVoter(servers []raft.Server, id string) bool {
	voters, isVoter := 0, false
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
			isVoter = isVoter || string(s.ID) == id
		}
	}
	return isVoter && voters == 1
}

// removedNoticeBound is how long a leader goes on trying to tell a server
// it removed: the effective LeaderLossBound, after which the removed
// server, which hears from no leader any more, is Degraded anyway; at
// least 2×ElectionTimeout.
func (n *Node) removedNoticeBound() time.Duration {
	d := n.cfg.Readiness.LeaderLossBound
	if d <= 0 {
		d = readiness.DefaultLeaderLossBound
	}
	return max(d, 2*n.electionTimeout)
}

// startRemovedNotice tells the server id at addr, from a goroutine of the
// node's WaitGroup, that the configuration entry at index removed it:
// raft v1.7.3 sends that entry to the removed server only on a best-effort
// basis (its replication to the server stops when the change commits,
// possibly before the entry was sent). It retries with backoff until the
// server answers, refuses for good, is a member again in this node's
// latest configuration, removedNoticeBound passes, or the node closes.
func (n *Node) startRemovedNotice(id, addr string, index uint64) {
	if n.ctx.Err() != nil {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, n.removedNoticeBound())
		defer cancel()
		req := &wire.RemovedNotice{ClusterID: n.ClusterID(), ID: id, Index: index}
		for attempt := 0; ; attempt++ {
			if servers, err := n.latestServers(); err == nil {
				if _, back := memberSet(servers)[id]; back {
					return
				}
			}
			var resp wire.RemovedNoticeResponse
			err := n.call(ctx, addr, req, &resp)
			switch {
			case err == nil && resp.Code == wire.CodeOK:
				n.logger.Debug("told a removed server of its removal", "member", id, "index", index)
				return
			case err == nil && resp.Code != wire.CodeNotReady:
				// Refused, closed (a server that left closes), or not
				// understood: asking again cannot change the answer.
				n.logger.Debug("removed server did not take the removal notice", "member", id, "code", resp.Code, "message", resp.Message)
				return
			}
			if !sleepCtx(ctx, backoff(attempt)) {
				n.logger.Debug("could not tell a removed server of its removal", "member", id, "error", err)
				return
			}
		}
	}()
}

// handleRemovedNotice takes a leader's word that this node was removed by
// the configuration entry at req.Index (authorizeRPC checked that the
// sender is a member). It holds the node Removed until its log reaches
// that index; from there on checkMembership decides from the
// configuration, as for a removal it saw itself.
func (n *Node) handleRemovedNotice(req *wire.RemovedNotice) *wire.RemovedNoticeResponse {
	if req.ClusterID == "" || req.ClusterID != n.ClusterID() {
		err := fmt.Errorf("%w: removal notice for cluster %q, this is %q", ErrClusterMismatch, req.ClusterID, n.ClusterID())
		return &wire.RemovedNoticeResponse{Status: n.errorStatus(err)}
	}
	if req.ID != n.cfg.ID || req.Index == 0 {
		return &wire.RemovedNoticeResponse{Status: wire.Status{Code: wire.CodeBadRequest,
			Message: fmt.Sprintf("removal notice for %q at index %d; this is %q", req.ID, req.Index, n.cfg.ID)}}
	}
	if n.membership.noticeHolds(req.Index, n.raft.LastIndex()) {
		n.logger.Warn("the leader says this node was removed from the cluster", "index", req.Index)
		n.kickMonitor()
	}
	return &wire.RemovedNoticeResponse{}
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
// Errors: ErrClosed; ErrLastVoter when this node is the cluster's only
// voter (nothing changed, the node stays open: Close it instead); ErrNoLeader
// or ErrIndeterminate when the removal could not be confirmed before ctx
// ended (the node is then still open); ctx's error when ctx had ended
// before Leave started.
func (n *Node) Leave(ctx context.Context) error {
	if n.closed.Load() {
		return ErrClosed
	}
	if servers, err := n.latestServers(); err == nil && lastVoter(servers, n.cfg.ID) {
		return wrapf([]error{ErrLastVoter}, "leave: this node is the cluster's only voter")
	}
	if voters, err := n.voterCount(); n.raft.State() == raft.Leader && (err != nil || voters > 1) {
		if err := n.TransferLeadership(ctx); err != nil {
			n.logger.Warn("leadership transfer before leave failed; removing self as leader", "error", err)
		}
	}
	if err := n.RemoveServer(ctx, n.cfg.ID); err != nil {
		return wrapf([]error{err}, "leave: %v", err)
	}
	n.logger.Info("left the cluster")
	return n.Close()
}

// TransferLeadership hands leadership to another voter (raft picks the
// one furthest replicated). The lease ends before the transfer starts and
// stays void afterwards, in this node's term, for as long as anything the
// attempt set off can still make another node leader: see transferVoid,
// and docs/consistency.md for the argument. Lease reads meanwhile confirm
// leadership with a quorum round, as Strong reads do.
//
// Errors: ErrClosed, a *NotLeaderError when this node is not the leader,
// raft.ErrLeadershipTransferInProgress when a transfer is already under
// way, raft's error when the transfer fails, ctx's error when it ends
// first (raft's attempt may then still be running; the lease stays void
// as for any other outcome).
func (n *Node) TransferLeadership(ctx context.Context) error {
	if n.closed.Load() {
		return ErrClosed
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	term := n.raft.CurrentTerm()
	if !n.transfer.begin(term) {
		return fmt.Errorf("raftsync: leadership transfer: %w", raft.ErrLeadershipTransferInProgress)
	}
	resume := n.lease.Suspend()
	err := n.futures.wait(ctx, n.raft.LeadershipTransfer())
	// No yes to a transfer check after this point; then the void, then the
	// suspension may end.
	n.transfer.end()
	n.lease.VoidUntil(term, n.clock.Now().Add(n.transferVoid()))
	resume()
	if err != nil {
		return fmt.Errorf("raftsync: leadership transfer: %w", err)
	}
	return nil
}

// Bounds of raft's transport (startNetwork): how long a dial may take and
// how long one raft RPC may take once its connection is open.
const (
	raftDialTimeout = 5 * time.Second
	raftRPCTimeout  = 10 * time.Second
)

// transferVoid is how long after a transfer attempt ends the lease stays
// void in its term. raft answers the transfer's future after
// ElectionTimeout while its TimeoutNow may not even have been written
// yet: raft's transfer goroutine can still dial (up to raftDialTimeout)
// and then send within raftRPCTimeout; the target then campaigns at once,
// for up to 2×ElectionTimeout, and followers grant its flagged votes
// without waiting for their promise to run out; HeartbeatTimeout is the
// margin the issue asked for on top. The other nodes check every
// TimeoutNow and every flagged vote request with this leader
// (confirmTransfer), which answers no once the attempt has ended, so this
// bound only matters against a node that does not check (an older version
// during a rolling upgrade), and even there it does not cover a message
// held in a TCP stream past the transport's timeout, nor a flagged vote
// request delayed past the campaign: nothing but the check can.
func (n *Node) transferVoid() time.Duration {
	return n.remoteSpan(raftDialTimeout + raftRPCTimeout + 2*n.electionTimeout + n.heartbeatTimeout)
}

// remoteSpan returns a duration on this node's clock that outlasts d
// measured on another node's clock, under the configured drift bound
// (clock rates within a factor 1±DriftRatio of each other), plus the
// margin.
func (n *Node) remoteSpan(d time.Duration) time.Duration {
	o := n.cfg.Consistency.Lease
	drift, margin := o.DriftRatio, o.Margin
	if drift == 0 {
		drift = consistency.DefaultDriftRatio
	}
	if margin == 0 {
		margin = consistency.DefaultMargin
	}
	return time.Duration(float64(d)/(1-drift)) + margin
}

// transferGate is the leader's record of the leadership transfer it runs,
// for the transfer checks of the other nodes. It is safe for concurrent
// use; no method blocks beyond a short lock.
type transferGate struct {
	mu     sync.Mutex
	active bool
	term   uint64
}

// begin records a transfer in term; false when one is already recorded.
func (g *transferGate) begin(term uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.active {
		return false
	}
	g.active, g.term = true, term
	return true
}

// end records that the transfer is over: confirm answers no from now on.
func (g *transferGate) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active = false
}

// confirm reports whether a transfer is in progress in term and, when it
// is, runs void before it returns, under the same lock as end: no yes is
// given after end, and every yes has voided the lease first.
func (g *transferGate) confirm(term uint64, void func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.active || g.term != term {
		return false
	}
	void()
	return true
}

// errTransferNotConfirmed: a TimeoutNow or a vote request carrying raft's
// transfer flag was dropped because the leader did not confirm, within the
// window, that it is transferring leadership in this node's term.
var errTransferNotConfirmed = errors.New("raftsync: leadership transfer not confirmed by the leader")

// maxTransferWindow caps the window a node may ask for in a transfer
// check: the leader's lease stays void that long after each yes.
const maxTransferWindow = 10 * time.Second

// transferWindow is how long after asking this node still acts on a
// leader's yes to a transfer check.
func (n *Node) transferWindow() time.Duration { return n.heartbeatTimeout / 2 }

// handleTransferCheck answers another node's transfer check on the
// leader: yes when this node leads in req.Term and a transfer it started
// is in progress. Before it says yes, the lease is voided in that term
// until req.Window (on the asker's clock, so converted with the drift
// bound) has passed: whatever the asker then hands to raft, it hands over
// before that time.
func (n *Node) handleTransferCheck(req *wire.TransferCheckRequest) *wire.TransferCheckResponse {
	if req.Window <= 0 || req.Window > maxTransferWindow {
		return &wire.TransferCheckResponse{Status: wire.Status{Code: wire.CodeBadRequest,
			Message: fmt.Sprintf("transfer check window %v outside (0, %v]", req.Window, maxTransferWindow)}}
	}
	if err := n.confirmLocalTransfer(req.Term, req.Window); err != nil {
		return &wire.TransferCheckResponse{Status: n.errorStatus(err)}
	}
	return &wire.TransferCheckResponse{}
}

// confirmLocalTransfer is the leader's side of a transfer check.
func (n *Node) confirmLocalTransfer(term uint64, window time.Duration) error {
	if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
		return fmt.Errorf("%w: not the leader in term %d", errTransferNotConfirmed, term)
	}
	ok := n.transfer.confirm(term, func() {
		n.lease.VoidUntil(term, n.clock.Now().Add(n.remoteSpan(window)))
	})
	if !ok {
		return fmt.Errorf("%w: no transfer in progress in term %d", errTransferNotConfirmed, term)
	}
	return nil
}

// confirmTransfer decides, for the vote fence, whether raft may act on
// cmd, a TimeoutNow or a vote request carrying raft's transfer flag:
// either would let this node break its promise to its leader (to vote for
// no one else until the promise runs out; see handleConfirm). It asks the
// leader concerned whether it is transferring leadership in this node's
// term, and returns nil only on a yes. ctx bounds the question.
//
//   - TimeoutNow: the sender is asked. Its yes means it leads in this
//     node's term, so the campaign this starts (in the next term) can only
//     overtake that leader, whose lease stays void.
//   - A flagged vote request: the leader this node knows is asked (itself
//     when it leads). With no leader known, or when the candidate is that
//     leader, voting breaks no promise and nil is returned at once.
func (n *Node) confirmTransfer(ctx context.Context, cmd any, window time.Duration) error {
	if !n.started.Load() || n.closed.Load() {
		return fmt.Errorf("%w: node starting or closed", errTransferNotConfirmed)
	}
	term := n.raft.CurrentTerm()
	var ask string
	switch req := cmd.(type) {
	case *raft.TimeoutNowRequest:
		ask = string(n.trans.DecodePeer(req.Addr))
	case *raft.RequestVoteRequest:
		leaderAddr, leaderID := n.raft.LeaderWithID()
		switch {
		case leaderID == "" || (len(req.Addr) > 0 && leaderAddr == n.trans.DecodePeer(req.Addr)):
			return nil
		case string(leaderID) == n.cfg.ID:
			return n.confirmLocalTransfer(term, window)
		}
		ask = string(leaderAddr)
	default:
		return nil
	}
	if ask == "" {
		return fmt.Errorf("%w: no sender address", errTransferNotConfirmed)
	}
	var resp wire.TransferCheckResponse
	if err := n.call(ctx, ask, &wire.TransferCheckRequest{Term: term, Window: window}, &resp); err != nil {
		return fmt.Errorf("%w: asking %s: %w", errTransferNotConfirmed, ask, err)
	}
	if err := statusError(resp.Status); err != nil {
		return fmt.Errorf("%w: %s answered: %w", errTransferNotConfirmed, ask, err)
	}
	return nil
}

// voterCount returns the number of voters in raft's latest configuration.
func (n *Node) voterCount() (int, error) {
	servers, err := n.votersNow()
	if err != nil {
		return 0, err
	}
	c := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			c++
		}
	}
	return c, nil
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
		if err := n.awaitLeaderChange(ctx, ep, attempt, err); err != nil {
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
