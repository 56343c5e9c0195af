package raftsync

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"

	"github.com/raftkit/raftkit/internal/wire"
)

// pilot runs raft-autopilot on the leader. It is the library's delegate
// (ApplicationIntegration) over raftkit's membership and node RPC, and its
// Promoter. Its records live for one stretch of leadership: reset clears
// them when the node starts or stops leading.
type pilot struct {
	n      *Node
	cfg    AutopilotConfig
	conf   *autopilot.Config
	lib    *autopilot.Autopilot
	logger hclog.Logger

	mu       sync.Mutex
	members  map[raft.ServerID]*memberRecord
	removing bool           // a dead-member removal is in flight
	health   *ClusterHealth // nil when not leading or not yet evaluated
	// overlap counts removals offered while another was in flight, and
	// voterChecks the removal rounds that found a dead voter; tests read
	// them through autopilot_export_test.go.
	overlap     int
	voterChecks int
}

// memberRecord is what the leader knows of one member.
type memberRecord struct {
	firstSeen   time.Time
	lastHealthy time.Time // zero until a passed health check
	lastAnswer  time.Time // zero until it answered a stats request
	stats       autopilot.ServerStats
	wantsVoter  bool
	dead        bool // isDead at the last KnownServers
}

func newPilot(n *Node) *pilot {
	p := &pilot{
		n:       n,
		cfg:     n.cfg.Autopilot,
		conf:    n.cfg.Autopilot.library(),
		logger:  n.cfg.Logger.Named("autopilot").With("id", n.cfg.ID),
		members: make(map[raft.ServerID]*memberRecord),
	}
	p.lib = autopilot.New(pilotRaft{Raft: n.raft, shutdown: n.life.futures.done}, p,
		autopilot.WithLogger(n.cfg.Logger),
		autopilot.WithPromoter(p),
		autopilot.WithUpdateInterval(p.cfg.UpdateInterval),
		autopilot.WithReconcileInterval(p.cfg.ReconcileInterval),
	)
	return p
}

// startAutopilot starts the goroutine that runs autopilot while this node
// leads. It does nothing when autopilot is disabled.
func (n *Node) startAutopilot() {
	if n.cfg.Autopilot.Disabled {
		return
	}
	n.pilot = newPilot(n)
	n.life.wg.Add(1)
	go func() {
		defer n.life.wg.Done()
		n.pilot.run()
	}()
}

// run starts the library when the node becomes leader and stops it, and
// waits until it has stopped, when the node stops leading or closes. The
// library never runs twice at once.
func (p *pilot) run() {
	running := false
	stop := func() {
		if running {
			<-p.lib.Stop()
			running = false
		}
		p.reset()
	}
	for {
		ep := p.n.lead.epoch.Load()
		switch {
		case ep.isLeader && !running:
			p.reset()
			p.lib.Start(p.n.life.ctx)
			running = true
		case !ep.isLeader && running:
			stop()
		}
		select {
		case <-ep.replaced:
		case <-p.n.life.ctx.Done():
			stop()
			return
		}
	}
}

func (p *pilot) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.members = make(map[raft.ServerID]*memberRecord)
	p.health = nil
}

// clusterHealth returns the last evaluated cluster health, or nil.
func (p *pilot) clusterHealth() *ClusterHealth {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.health == nil {
		return nil
	}
	h := *p.health
	h.Servers = append([]ServerHealth(nil), h.Servers...)
	return &h
}

// record returns id's record, creating it; p.mu must be held.
func (p *pilot) record(id raft.ServerID, now time.Time) *memberRecord {
	r := p.members[id]
	if r == nil {
		r = &memberRecord{firstSeen: now}
		p.members[id] = r
	}
	return r
}

// wantsVoter reports whether id is a voter-to-be: it said so in its last
// stats answer.
func (p *pilot) wantsVoter(id raft.ServerID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.members[id]
	return r != nil && r.wantsVoter
}

// isDead decides whether a member has failed its health check for longer
// than threshold: since its last passed check, or since it was first seen
// when it never passed one.
func isDead(r *memberRecord, now time.Time, threshold time.Duration) bool {
	since := r.firstSeen
	if r.lastHealthy.After(since) {
		since = r.lastHealthy
	}
	return now.Sub(since) > threshold
}

// --- autopilot.ApplicationIntegration ---

// AutopilotConfig returns the fixed configuration from Config.Autopilot.
func (p *pilot) AutopilotConfig() *autopilot.Config { return p.conf }

// KnownServers returns every member of raft's latest configuration; a
// member is NodeFailed once isDead says so, NodeAlive before. Because the
// library reads raft's configuration before it calls this, a member added
// in between is known, not "stale".
func (p *pilot) KnownServers() map[raft.ServerID]*autopilot.Server {
	f := p.n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		p.logger.Debug("reading raft configuration", "error", err)
		return nil
	}
	now := time.Now()
	self := raft.ServerID(p.n.cfg.ID)
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[raft.ServerID]*autopilot.Server)
	for _, s := range f.Configuration().Servers {
		r := p.record(s.ID, now)
		srv := &autopilot.Server{
			ID: s.ID, Name: string(s.ID), Address: s.Address,
			NodeStatus: autopilot.NodeAlive,
			IsLeader:   s.ID == self,
			NodeType:   nodeType(s.Suffrage == raft.Voter || r.wantsVoter),
		}
		r.dead = s.ID != self && isDead(r, now, p.cfg.DeadServerThreshold)
		if r.dead {
			srv.NodeStatus = autopilot.NodeFailed
		}
		out[s.ID] = srv
	}
	return out
}

// nodeTypeNonVoter marks a read replica: never promoted, not counted as
// a potential voter when removals are weighed.
const nodeTypeNonVoter autopilot.NodeType = "non-voter"

func nodeType(voter bool) autopilot.NodeType {
	if voter {
		return autopilot.NodeVoter
	}
	return nodeTypeNonVoter
}

// FetchServerStats asks every member but this node (whose stats are read
// locally) for its stats, in parallel, until ctx ends. A member that does
// not answer, or answers with another ID, gets its last stats with
// LastContact the time since its last answer (negative when it never
// answered), which fails the health check once that passes
// LastContactThreshold: the library would otherwise keep a silent
// member's last stats, and a quiet cluster would find it healthy forever.
func (p *pilot) FetchServerStats(ctx context.Context, servers map[raft.ServerID]*autopilot.Server) map[raft.ServerID]*autopilot.ServerStats {
	type answer struct {
		id   raft.ServerID
		resp *wire.ServerStatsResponse
	}
	self := raft.ServerID(p.n.cfg.ID)
	req := p.wireHealth(time.Now())
	answers := make(chan answer, len(servers))
	asked := 0
	for id, srv := range servers {
		if id == self {
			continue
		}
		asked++
		go func(id raft.ServerID, addr string) {
			var resp wire.ServerStatsResponse
			err := p.n.call(ctx, addr, req, &resp)
			if err == nil {
				err = statusError(resp.Status)
			}
			if err == nil && resp.ID != string(id) {
				err = fmt.Errorf("%s answered as %q", addr, resp.ID)
			}
			if err != nil {
				p.logger.Debug("fetching member stats", "member", id, "error", err)
				answers <- answer{id: id}
				return
			}
			answers <- answer{id: id, resp: &resp}
		}(id, string(srv.Address))
	}
	out := make(map[raft.ServerID]*autopilot.ServerStats, len(servers))
	if _, ok := servers[self]; ok {
		if term, err := p.n.lastLogTerm(); err == nil {
			out[self] = &autopilot.ServerStats{LastTerm: term, LastIndex: p.n.raft.LastIndex()}
		}
	}
	got := make([]answer, 0, asked)
	for range asked {
		got = append(got, <-answers) // every call ends by ctx's deadline
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range got {
		r := p.record(a.id, now)
		if a.resp != nil {
			r.lastAnswer = now
			r.wantsVoter = a.resp.WantsVoter
			r.stats = autopilot.ServerStats{LastContact: a.resp.LastContact, LastTerm: a.resp.LastTerm, LastIndex: a.resp.LastIndex}
			s := r.stats
			out[a.id] = &s
			continue
		}
		s := r.stats
		s.LastContact = -1
		if !r.lastAnswer.IsZero() {
			s.LastContact = now.Sub(r.lastAnswer)
		}
		out[a.id] = &s
	}
	return out
}

// NotifyState records the library's new state: health for Status and the
// metrics, and the time of each member's last passed check. It runs under
// the library's state lock and must not call back into it.
func (p *pilot) NotifyState(s *autopilot.State) {
	now := time.Now()
	leaderLast := p.n.raft.LastIndex()
	h := &ClusterHealth{Healthy: s.Healthy, FailureTolerance: s.FailureTolerance, Voters: len(s.Voters), UpdatedAt: now}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, srv := range s.Servers {
		r := p.record(id, now)
		if srv.Health.Healthy {
			r.lastHealthy = now
		}
		sh := ServerHealth{
			ID: string(id), Addr: string(srv.Server.Address),
			Leader:      srv.State == autopilot.RaftLeader,
			Voter:       srv.HasVotingRights(),
			Healthy:     srv.Health.Healthy,
			StableSince: srv.Health.StableSince,
			LastContact: srv.Stats.LastContact,
		}
		if leaderLast > srv.Stats.LastIndex {
			sh.TrailingLogs = leaderLast - srv.Stats.LastIndex
		}
		sh.PromotionPending = srv.State == autopilot.RaftNonVoter && r.wantsVoter
		sh.Dead = r.dead
		h.Servers = append(h.Servers, sh)
	}
	sort.Slice(h.Servers, func(i, j int) bool {
		a, b := h.Servers[i], h.Servers[j]
		if a.Leader != b.Leader {
			return a.Leader
		}
		if a.Voter != b.Voter {
			return a.Voter
		}
		return a.ID < b.ID
	})
	p.health = h
	p.n.stats.setAutopilot(s.Healthy, s.FailureTolerance)
}

// RemoveFailedServer removes a dead member from raft's configuration in
// the background, one at a time: FilterFailedServerRemovals offers no
// removal while one is in flight, and a second call meanwhile is dropped.
// Each removal is logged once, at Info, and counted in
// Metrics.DeadServersRemoved.
func (p *pilot) RemoveFailedServer(srv *autopilot.Server) {
	p.mu.Lock()
	if p.removing {
		p.overlap++
		p.mu.Unlock()
		return
	}
	p.removing = true
	r := p.record(srv.ID, time.Now())
	since := r.lastHealthy
	p.mu.Unlock()

	p.n.life.wg.Add(1) // the caller runs under run(), itself in n.life.wg: never zero here
	go func() {
		defer p.n.life.wg.Done()
		defer func() {
			p.mu.Lock()
			p.removing = false
			p.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(p.n.life.ctx, p.cfg.ReconcileInterval+p.n.lead.electionTimeout)
		defer cancel()
		f := p.n.raft.RemoveServer(srv.ID, 0, 0)
		if err := p.n.life.futures.wait(ctx, f); err != nil {
			p.logger.Warn("removing dead member failed; autopilot will try again", "member", srv.ID, "error", err)
			return
		}
		args := []any{"member", srv.ID, "addr", srv.Address, "threshold", p.cfg.DeadServerThreshold}
		if !since.IsZero() {
			args = append(args, "last_healthy", since)
		} else {
			args = append(args, "last_healthy", "never")
		}
		p.logger.Info("removed dead member", args...)
		p.n.stats.deadServersRemoved.Add(1)
	}()
}

// --- autopilot.Promoter ---

// GetServerExt returns nil: no extended server state.
func (p *pilot) GetServerExt(*autopilot.Config, *autopilot.ServerState) any { return nil }

// GetStateExt returns nil: no extended state.
func (p *pilot) GetStateExt(*autopilot.Config, *autopilot.State) any { return nil }

// GetNodeTypes marks voters and voters-to-be as NodeVoter, read replicas
// as non-voters.
func (p *pilot) GetNodeTypes(_ *autopilot.Config, s *autopilot.State) map[raft.ServerID]autopilot.NodeType {
	types := make(map[raft.ServerID]autopilot.NodeType, len(s.Servers))
	for id, srv := range s.Servers {
		types[id] = nodeType(srv.State.IsPotentialVoter() || p.wantsVoter(id))
	}
	return types
}

// CalculatePromotionsAndDemotions promotes the non-voters that want to
// vote and have been healthy for the full ServerStabilizationTime. Unlike
// the library's StablePromoter it does not drop the stabilization time
// while the leader's autopilot is younger than it: a new leader has no
// health history, and waiting costs nothing but time while the member
// does not vote. Read replicas are never promoted; nothing is demoted and
// leadership is never moved. The state may be an update interval old: a
// member that has left raft's latest configuration since (RemoveServer)
// is not promoted, since AddVoter would add it back.
func (p *pilot) CalculatePromotionsAndDemotions(c *autopilot.Config, s *autopilot.State) autopilot.RaftChanges {
	var changes autopilot.RaftChanges
	f := p.n.raft.GetConfiguration()
	if f.Error() != nil {
		return changes
	}
	nonVoters := make(map[raft.ServerID]bool)
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Nonvoter {
			nonVoters[srv.ID] = true
		}
	}
	now := time.Now()
	for id, srv := range s.Servers {
		if srv.State == autopilot.RaftNonVoter && nonVoters[id] && p.wantsVoter(id) && srv.Health.IsStable(now, c.ServerStabilizationTime) {
			changes.Promotions = append(changes.Promotions, id)
		}
	}
	sort.Slice(changes.Promotions, func(i, j int) bool { return changes.Promotions[i] < changes.Promotions[j] })
	return changes
}

// FilterFailedServerRemovals lets at most one removal through per round,
// and none while one is in flight: the library would remove up to half
// the voters but one in a single round. Non-voters go first. "Stale"
// servers (in raft's configuration, unknown to KnownServers) are never
// removed: KnownServers knows every member, so a stale one can only come
// from a configuration read that failed, and removing on that would be
// removing without a failed health check.
func (p *pilot) FilterFailedServerRemovals(_ *autopilot.Config, _ *autopilot.State, failed *autopilot.FailedServers) *autopilot.FailedServers {
	p.mu.Lock()
	inFlight := p.removing
	if failed != nil && len(failed.FailedVoters) > 0 {
		p.voterChecks++
	}
	p.mu.Unlock()
	return filterRemovals(failed, inFlight)
}

func filterRemovals(failed *autopilot.FailedServers, inFlight bool) *autopilot.FailedServers {
	out := &autopilot.FailedServers{}
	switch {
	case inFlight || failed == nil:
	case len(failed.FailedNonVoters) > 0:
		out.FailedNonVoters = failed.FailedNonVoters[:1]
	case len(failed.FailedVoters) > 0:
		out.FailedVoters = failed.FailedVoters[:1]
	}
	return out
}

// IsPotentialVoter reports whether t is NodeVoter.
func (p *pilot) IsPotentialVoter(t autopilot.NodeType) bool { return t == autopilot.NodeVoter }

// handleServerStats answers the leader's autopilot with this node's
// stats and keeps the health view the leader sent for Status. It also
// notes this node's role, so that the time of a promotion is seen within
// an update interval. Only members may ask (RequestStatus).
func (n *Node) handleServerStats(ctx context.Context, req *wire.ServerStatsRequest) *wire.ServerStatsResponse {
	// Under TLS the report is kept only from a peer whose certificate
	// names the leader it claims to be.
	if p := peerFrom(ctx); req.HealthKnown && (p.chains == nil || p.names(req.LeaderID, n.ClusterID())) {
		n.peers.role.reported(req.LeaderID, healthFromWire(req, time.Now()), time.Now())
	}
	contact := time.Duration(-1)
	if n.raft.State() == raft.Leader {
		contact = 0
	} else if t := n.raft.LastContact(); !t.IsZero() {
		contact = time.Since(t)
	}
	term, err := n.lastLogTerm()
	if err != nil {
		return &wire.ServerStatsResponse{Status: n.errorStatus(err)}
	}
	n.observeRole()
	return &wire.ServerStatsResponse{
		ID: n.cfg.ID, LastContact: contact, LastTerm: term, LastIndex: n.raft.LastIndex(),
		WantsVoter: !n.cfg.NonVoter,
	}
}

// wireHealth returns the stats request, carrying the last evaluated
// health for the members to show.
func (p *pilot) wireHealth(now time.Time) *wire.ServerStatsRequest {
	req := &wire.ServerStatsRequest{LeaderID: p.n.cfg.ID}
	h := p.clusterHealth()
	if h == nil {
		return req
	}
	req.HealthKnown, req.Healthy, req.Voters = true, h.Healthy, uint64(h.Voters)
	req.FailureTolerance = uint64(max(h.FailureTolerance, 0))
	req.Age = now.Sub(h.UpdatedAt)
	for _, s := range h.Servers[:min(len(h.Servers), wire.MaxHealthServers)] {
		req.Servers = append(req.Servers, wire.ServerHealth{
			ID: s.ID, Addr: s.Addr, Leader: s.Leader, Voter: s.Voter, Healthy: s.Healthy,
			PromotionPending: s.PromotionPending, Dead: s.Dead,
			StableFor: now.Sub(s.StableSince), LastContact: s.LastContact, TrailingLogs: s.TrailingLogs,
		})
	}
	return req
}

// healthFromWire turns a leader's report into a ClusterHealth on this
// node's clock: times are the leader's ages subtracted from arrival.
func healthFromWire(req *wire.ServerStatsRequest, now time.Time) *ClusterHealth {
	h := &ClusterHealth{
		Healthy: req.Healthy, FailureTolerance: int(min(req.FailureTolerance, wire.MaxHealthServers)),
		Voters: int(min(req.Voters, wire.MaxHealthServers)), UpdatedAt: now.Add(-req.Age),
	}
	for _, s := range req.Servers {
		h.Servers = append(h.Servers, ServerHealth{
			ID: s.ID, Addr: s.Addr, Leader: s.Leader, Voter: s.Voter, Healthy: s.Healthy,
			StableSince: now.Add(-s.StableFor), LastContact: s.LastContact, TrailingLogs: s.TrailingLogs,
			PromotionPending: s.PromotionPending, Dead: s.Dead,
		})
	}
	return h
}

// reportedHealthAge is how old a leader's reported health may be and still
// show in Status: three of this node's update intervals (the leader is
// expected to use the same) and an election timeout.
func (n *Node) reportedHealthAge() time.Duration {
	return 3*n.cfg.Autopilot.UpdateInterval + n.lead.electionTimeout
}
