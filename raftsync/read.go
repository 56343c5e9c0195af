package raftsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/quorum"
	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/internal/staleread"
	"github.com/raftkit/raftkit/internal/wire"
)

// Read runs fn once the node's state satisfies level, on the leader, a
// follower or a non-voter alike. fn reads the application's FSM; nothing of
// it runs before the level's check has passed. See package consistency for
// what each level guarantees and costs.
//
// With Config.ReadFence, Read returns only once the persisted applied index
// covers the applied index both before fn runs and after it returned, at
// every level: after a crash the node recovers at least what fn saw before
// it serves again. A closure that hands what it reads to a client before it
// returns is covered for the state it was started on; entries applied while
// it runs are covered once Read returns.
//
// Cancelling ctx stops the wait; fn is then not run, or, when ctx ends
// during the fence after fn, Read returns the fence's error and the caller
// must not release what fn read.
//
// opts set this read's own bounds over Config.Consistency's, such as
// consistency.WithMaxStaleness for a Stale read.
//
// Errors: ErrClosed; ErrNotReady (a Stale read before the node recovered
// its local state); ErrTooStale (a Stale read beyond its bounds, as
// *consistency.TooStaleError); consistency.ErrInvalidOptions (a negative
// per-read bound); ErrNoLeader (Strong or Lease with no leader reachable
// before ctx ends: a Strong or Lease read on a follower waits for the next
// leader when the leader closes or changes); ctx's error; or fn's error.
// ErrClosed always means this node is closed.
func (n *Node) Read(ctx context.Context, level consistency.Level, fn func() error, opts ...consistency.ReadOption) error {
	if _, err := n.ReadIndex(ctx, level, opts...); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	// fn may have seen entries applied after the check: the fence must
	// cover what it saw, so it covers the applied index after it ran.
	return n.fenceApplied(ctx)
}

// ReadIndex makes the node's state satisfy level and returns what a read
// made right after it is served at. It is the building block for handlers
// that read outside a closure: read the FSM after ReadIndex returns, and
// the read has the level's guarantee (report ReadInfo to clients the way
// Consul reports X-Consul-Index, KnownLeader and LastContact).
//
// With Config.ReadFence, ReadIndex returns only once the persisted applied
// index covers the node's applied index at that moment (at least the
// returned Index), at every level. A read made after it returns may see
// entries applied later still: a handler that reads outside a closure and
// needs the fence to cover everything it serves calls Fence with the index
// its read reflects before it releases the answer, or uses Read.
//
// opts and errors: as Read.
func (n *Node) ReadIndex(ctx context.Context, level consistency.Level, opts ...consistency.ReadOption) (_ consistency.ReadInfo, err error) {
	defer func() { n.stats.read(level, err) }()
	info, err := n.readIndex(ctx, level, opts)
	if err != nil {
		return info, err
	}
	if err := n.fenceApplied(ctx); err != nil {
		return consistency.ReadInfo{}, err
	}
	return info, nil
}

// Fence blocks until the node's durable record of its applied index covers
// index, so that after a crash the node recovers at least the state at
// index before it serves anything. It is how a handler that read the FSM
// after ReadIndex fences what it read: call it with the index the read
// reflects (at least the ReadInfo.Index) before releasing the answer. An
// index not yet applied here is waited for first. Concurrent callers share
// one group-committed write.
//
// Without Config.ReadFence, Fence returns nil at once: the node makes no
// promise across crashes.
//
// Errors: ErrClosed; ctx's error (wrapped) when ctx ends first.
func (n *Node) Fence(ctx context.Context, index uint64) error {
	if n.life.closed.Load() {
		return ErrClosed
	}
	if !n.cfg.ReadFence {
		return nil
	}
	if err := n.WaitIndex(ctx, index); err != nil {
		return err
	}
	return n.waitFence(ctx, index)
}

// fenceApplied, with Config.ReadFence, waits until the persisted index covers the applied
// index as it is now.
func (n *Node) fenceApplied(ctx context.Context) error {
	if !n.cfg.ReadFence {
		return nil
	}
	return n.waitFence(ctx, n.fsm.applied.Index())
}

func (n *Node) waitFence(ctx context.Context, index uint64) error {
	if err := n.persist.waitCovers(ctx, index); err != nil {
		if n.life.closed.Load() {
			return ErrClosed
		}
		return err
	}
	return nil
}

// readIndex is ReadIndex without the fence.
func (n *Node) readIndex(ctx context.Context, level consistency.Level, opts []consistency.ReadOption) (consistency.ReadInfo, error) {
	if n.life.closed.Load() {
		return consistency.ReadInfo{}, ErrClosed
	}
	switch level {
	case consistency.Stale:
		return n.staleIndex(ctx, n.cfg.Consistency.Stale.With(opts...))
	case consistency.Strong, consistency.Lease:
	default:
		return consistency.ReadInfo{}, fmt.Errorf("raftsync: %w: %v", consistency.ErrUnknownLevel, level)
	}
	for attempt := 0; ; attempt++ {
		ep := n.lead.epoch.Load()
		var idx uint64
		var err error
		switch {
		case ep.isLeader:
			idx, _, err = n.leaderReadIndex(ctx, level, time.Time{}, wire.ReadVoucher{})
		case ep.leaderAddr != "":
			if level == consistency.Strong {
				idx, err = n.lead.followerStrong.Do(ctx)
			} else {
				idx, err = n.lead.followerLease.Do(ctx)
			}
			if err != nil && !errors.Is(err, ctx.Err()) && ctx.Err() == nil && !errors.Is(err, errRetryElsewhere) {
				// A failed round (leader unreachable, say) may succeed
				// against the next leader: retry after a leader change.
				n.logger.Debug("read index from leader failed", "error", err)
				err = fmt.Errorf("%w: %w", errRetryElsewhere, err)
			}
		default:
			err = errRetryElsewhere
		}
		if err == nil {
			if err := n.WaitIndex(ctx, idx); err != nil {
				return consistency.ReadInfo{}, err
			}
			return n.readInfo(level, idx), nil
		}
		if !errors.Is(err, errRetryElsewhere) {
			return consistency.ReadInfo{}, err
		}
		if err := n.awaitLeaderChange(ctx, ep, attempt, err); err != nil {
			return consistency.ReadInfo{}, err
		}
	}
}

// WaitIndex blocks until this node has applied index (an ApplyResult.Index
// from any node, or a ReadInfo.Index), so that a read here afterwards sees
// that write: read-your-writes across nodes. It returns at once when the
// index is already applied.
//
// Errors: ErrClosed, ctx's error.
func (n *Node) WaitIndex(ctx context.Context, index uint64) error {
	if n.life.closed.Load() {
		return ErrClosed
	}
	if err := n.fsm.applied.Wait(ctx, index); err != nil {
		if n.life.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("raftsync: waiting for index %d (applied %d): %w", index, n.fsm.applied.Index(), err)
	}
	return nil
}

// staleIndex checks a Stale read against bounds: local
// state, no communication, except on a leader whose last quorum contact
// is older than MaxStaleness: it first confirms its leadership with a
// quorum round (shared with Strong reads) bounded by MaxStaleness and ctx,
// and is refused with ErrTooStale when that fails (a round slower than the
// bound could not prove it fresh anyway). The caller applies the read
// fence.
func (n *Node) staleIndex(ctx context.Context, bounds consistency.StaleBounds) (consistency.ReadInfo, error) {
	if !n.monitor.recovered.Load() {
		return consistency.ReadInfo{}, fmt.Errorf("%w: local state is still being recovered", ErrNotReady)
	}
	obs := n.staleObservation()
	err := staleread.Check(bounds, obs)
	if obs.IsLeader && err != nil && staleLeaderMayConfirm(err) {
		rctx, cancel := context.WithTimeout(ctx, bounds.MaxStaleness)
		_, rerr := n.lead.leaderRounds.Do(rctx)
		cancel()
		if rerr != nil && ctx.Err() != nil {
			return consistency.ReadInfo{}, fmt.Errorf("raftsync: confirming leadership for a bounded Stale read: %w", ctx.Err())
		}
		if rerr != nil {
			n.logger.Debug("leader could not confirm its leadership for a bounded Stale read", "error", rerr)
		}
		obs = n.staleObservation()
		err = staleread.Check(bounds, obs)
	}
	if err != nil {
		return consistency.ReadInfo{}, err
	}
	return n.readInfo(consistency.Stale, obs.Applied), nil
}

// staleLeaderMayConfirm reports whether a leader's refused Stale read was
// refused for staleness, which a quorum round can cure.
func staleLeaderMayConfirm(err error) bool {
	var tse *consistency.TooStaleError
	return errors.As(err, &tse) && tse.StalenessExceeded()
}

// staleObservation is what a Stale read is judged on.
func (n *Node) staleObservation() staleread.Observation {
	ep := n.lead.epoch.Load()
	obs := staleread.Observation{
		IsLeader:    ep.isLeader,
		LeaderKnown: ep.leaderID != "",
		LastContact: n.raft.LastContact(),
		Applied:     n.fsm.applied.Index(),
		CommitIndex: n.raft.CommitIndex(),
	}
	if !ep.isLeader {
		obs.Now = time.Now() // raft's LastContact is wall-clock time
	} else {
		obs.Now = n.clock.Now() // quorum contact is on the node's clock
		if qc := n.lead.quorumContact.Load(); qc != nil && qc.term == ep.term {
			obs.LastQuorumContact = qc.sentAt
		}
	}
	return obs
}

// quorumContact records that a quorum round sent at sentAt confirmed this
// node's leadership in term.
type quorumContact struct {
	term   uint64
	sentAt time.Time
}

// confirmedAt records a confirming round, keeping the latest: a later
// term replaces an earlier one, and within a term a later send time an
// earlier one. leaderRound calls it; staleObservation only reads it.
func (n *Node) confirmedAt(term uint64, sentAt time.Time) {
	next := &quorumContact{term: term, sentAt: sentAt}
	for {
		cur := n.lead.quorumContact.Load()
		if cur != nil && (cur.term > term || (cur.term == term && !sentAt.After(cur.sentAt))) {
			return
		}
		if n.lead.quorumContact.CompareAndSwap(cur, next) {
			return
		}
	}
}

func (n *Node) readInfo(level consistency.Level, idx uint64) consistency.ReadInfo {
	ep := n.lead.epoch.Load()
	info := consistency.ReadInfo{Level: level, Index: idx, IsLeader: ep.isLeader, KnownLeader: ep.leaderID != ""}
	if !ep.isLeader {
		if lc := n.raft.LastContact(); !lc.IsZero() {
			info.LastContact = time.Since(lc)
		}
	}
	return info
}

// leaderReadIndex returns the index a Strong or Lease read must wait for,
// on the leader. No index is given before this term's marker is applied.
// A non-zero deadline bounds the call as a deadline of ctx would (ending
// it with context.DeadlineExceeded); the round batcher applies it without
// deriving a context. v is the voucher of the follower asking, if any: a
// Strong read it stands for is answered without a round
// (readvoucher.go).
func (n *Node) leaderReadIndex(ctx context.Context, level consistency.Level, deadline time.Time, v wire.ReadVoucher) (uint64, uint64, error) {
	ep := n.lead.epoch.Load()
	if !ep.isLeader {
		return 0, 0, fmt.Errorf("%w: %w", errRetryElsewhere, n.notLeader())
	}
	select {
	case <-ep.synced:
	default:
		wctx := ctx
		if !deadline.IsZero() {
			var cancel context.CancelFunc
			wctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		select {
		case <-ep.synced:
		case <-ep.replaced:
			return 0, 0, fmt.Errorf("%w: leadership changed", errRetryElsewhere)
		case <-wctx.Done():
			return 0, 0, fmt.Errorf("%w: waiting for this term's first entry to apply: %w", ErrNoLeader, wctx.Err())
		}
	}
	// raft's state is checked too: a member that saw this node as anything
	// but leader may vote again at once after a restart (electfast.go).
	if level == consistency.Lease && n.lead.lease.Valid(ep.term) && n.raft.CurrentTerm() == ep.term && n.raft.State() == raft.Leader {
		if commit := n.raft.CommitIndex(); n.leaseConfigCurrent(commit) {
			n.stats.lease(level, true)
			return commit, ep.term, nil
		}
	}
	if level == consistency.Lease {
		n.stats.lease(level, false)
	}
	if level == consistency.Strong && v.Stamp != 0 {
		if idx, ok := n.vouchedReadIndex(ep, v); ok {
			n.stats.roundsVouched.Add(1)
			return idx, ep.term, nil
		}
	}
	idx, err := n.lead.leaderRounds.DoUntil(ctx, deadline)
	if err != nil {
		return 0, 0, err
	}
	return idx, ep.term, nil
}

// errNotConfirmed: a round did not reach a quorum in this node's term.
var errNotConfirmed = errors.New("raftsync: leadership not confirmed by a quorum")

// leaderRound is one quorum round (run by the leaderRounds batcher). It
// captures the commit index, then asks every other voter to confirm the
// term. A quorum of confirmations received after the capture proves no
// newer leader had been elected when the index was taken, so a read at
// that index is linearizable. The promises in the answers extend the lease,
// timed from when the round was sent.
//
// The voters are those of raft's latest configuration, read when the round
// starts and again when it ends (see votersNow); a round during which the
// configuration changed is run again, up to maxRoundAttempts times.
func (n *Node) leaderRound(ctx context.Context) (uint64, error) {
	for attempt := 1; ; attempt++ {
		idx, err := n.leaderRoundOnce(ctx)
		if !errors.Is(err, errConfigurationChanged) || attempt == maxRoundAttempts {
			return idx, err
		}
	}
}

// maxRoundAttempts bounds how often leaderRound starts over after the
// configuration changed under a round.
const maxRoundAttempts = 3

var errConfigurationChanged = errors.New("raftsync: the voter configuration changed during the round")

func (n *Node) leaderRoundOnce(ctx context.Context) (_ uint64, err error) {
	defer func() { n.stats.round(err) }()
	ep := n.lead.epoch.Load()
	if !ep.isLeader {
		return 0, fmt.Errorf("%w: %w", errRetryElsewhere, n.notLeader())
	}
	term := ep.term
	idx := n.raft.CommitIndex()
	if n.raft.CurrentTerm() != term || n.raft.State() != raft.Leader {
		return 0, fmt.Errorf("%w: leadership changed", errRetryElsewhere)
	}
	servers, err := n.votersNow()
	if err != nil {
		return 0, err
	}
	if p := n.lead.leaseConfig.Load(); p != nil && p.key != configurationKey(servers) {
		// A grant extends the lease held; what is held rests on another
		// configuration's promises, so it must not be carried over.
		n.lead.lease.Revoke()
	}
	tok := n.lead.lease.Begin()
	sentAt := n.clock.Now()

	sc := getRoundScratch()
	defer roundScratches.Put(sc)
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		sc.voterIDs = append(sc.voterIDs, string(s.ID))
		if string(s.ID) != n.cfg.ID {
			sc.peers = append(sc.peers, s)
		}
	}
	need := quorum.Quorum(len(sc.voterIDs)) - 1 // self counts
	acks := n.collectAcks(ctx, sc, term, need)
	confirmed, until := quorum.EvaluateRound(n.cfg.ID, term, sc.voterIDs, sentAt, acks, n.leaseOptions())
	voters := len(sc.voterIDs)
	if !confirmed {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%w (%d of %d voters answered in term %d)", errNotConfirmed, len(acks)+1, voters, term)
	}
	commit := n.raft.CommitIndex() // before the configuration: see leaseConfigCurrent
	after, err := n.votersNow()
	if err != nil {
		return 0, err
	}
	if !sameConfiguration(servers, after) {
		return 0, errConfigurationChanged
	}
	n.confirmedAt(term, sentAt)
	if !until.IsZero() {
		// The lease is used only while this configuration is the latest
		// (leaseConfigCurrent); rounds run one at a time, so the
		// configuration recorded is the one of the latest grant.
		if p := n.lead.leaseConfig.Load(); p == nil || p.key != configurationKey(servers) {
			// Kept when the configuration is the same: an older checked
			// index claims less, and leaseConfigCurrent advances it.
			n.lead.leaseConfig.Store(&leaseConfig{key: configurationKey(servers), checked: commit})
		}
		n.lead.lease.Grant(tok, term, until)
	}
	return idx, nil
}

// errNoConfiguration: raft could not report its configuration, so no
// quorum can be counted.
var errNoConfiguration = errors.New("raftsync: raft's configuration is unavailable")

// votersNow returns the servers of raft's latest configuration: the last
// configuration entry in this node's log, committed or not. The slice is
// raft's own copy and must not be modified. In raft v1.7.3 GetConfiguration
// reads an atomic copy that the main loop replaces with a fresh clone on
// every change, without a round trip through the main loop; it never fails
// there, but if it does the round fails rather than count an older list.
//
// Why the latest configuration, even uncommitted: hashicorp/raft itself
// uses its latest configuration for elections and commitment (Raft thesis
// §4.1), and changes it one server at a time, starting a change only once
// the previous one is committed (configurationChangeChIfStable). So at any
// moment the configuration a competing leader can be elected with is the
// leader's latest one or the one before it (a server that missed the
// latest entry), and any majority of either meets any majority of the
// latest: a quorum counted in the latest configuration meets the quorum
// that elected any newer leader. A list two changes old (3 -> 5 voters)
// gives no such guarantee, and neither does one read before a change
// appended during the round, hence the second read after it.
func (n *Node) votersNow() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoConfiguration, err)
	}
	return f.Configuration().Servers, nil
}

// configurationKey identifies a configuration returned by votersNow: raft
// stores every new configuration as a fresh copy, so the address of its
// first server changes whenever the configuration does (and cannot be
// reused by a later copy while the key is held).
func configurationKey(servers []raft.Server) *raft.Server {
	if len(servers) == 0 {
		return nil
	}
	return &servers[0]
}

func sameConfiguration(a, b []raft.Server) bool {
	return len(a) == len(b) && configurationKey(a) == configurationKey(b)
}

// leaseConfig is the configuration a lease was granted for, and a log
// index up to which the log is known to hold no later configuration.
type leaseConfig struct {
	key     *raft.Server // configurationKey
	checked uint64
}

// leaseConfigCurrent reports whether raft's configuration is still the one
// the lease was granted for, at most one change aside, given commit, the
// commit index read just before. A lease counts the promises of a quorum
// of its configuration; a single-server change keeps every quorum of the
// next configuration meeting that quorum, two changes would not.
//
// Asking raft for its configuration costs two allocations, so it is asked
// only when the commit index has moved past the one checked last. That is
// sound because hashicorp/raft starts a configuration change only once the
// previous one is committed (at most one uncommitted configuration entry,
// hence at most one change past the entries up to the commit index), and
// its leader publishes a configuration entry as the latest configuration
// in the same main-loop step that appends it, while the commit index
// advances only in a later step: a configuration read after the commit
// index reflects every configuration entry up to that index.
func (n *Node) leaseConfigCurrent(commit uint64) bool {
	p := n.lead.leaseConfig.Load()
	if p == nil || p.key == nil {
		return false
	}
	if commit <= p.checked {
		return true
	}
	servers, err := n.votersNow()
	if err != nil || configurationKey(servers) != p.key {
		return false
	}
	n.lead.leaseConfig.CompareAndSwap(p, &leaseConfig{key: p.key, checked: commit})
	return true
}

func (n *Node) leaseOptions() consistency.LeaseOptions {
	o := n.cfg.Consistency.Lease
	if o.MaxDuration == 0 || o.MaxDuration > n.lead.heartbeatTimeout {
		o.MaxDuration = n.lead.heartbeatTimeout
	}
	return o
}

// collectAcks asks sc.peers to confirm term and returns the acks that
// came back with that term (in sc.acks), as soon as need of them have, or
// when all answered or ctx ended. The request goes first to the need peers
// that answered fastest lately, and to the others only when one of those
// fails or refuses, or is slow (rpc.MulticallOptions.First): a round loads
// the cluster no more than it must, and a stalled voter delays it by one
// hedge delay at most, after which it is asked last. The requests are
// written and the answers read on this goroutine (rpc.Client.Multicall),
// with no goroutine per peer; the calls still out are abandoned when it
// returns. The first request, alone, goes over a connection dedicated to
// such calls, whose answer this goroutine reads from the socket itself
// (rpc.MulticallOptions.Direct: a confirmation is safe to ask twice).
func (n *Node) collectAcks(ctx context.Context, sc *roundScratch, term uint64, need int) []quorum.Ack {
	if len(sc.peers) == 0 || need <= 0 {
		return nil
	}
	req, err := sc.confirmRequest(term, n.cfg.ID)
	if err != nil {
		n.logger.Error("encoding a confirmation request", "error", err)
		return nil
	}
	for _, p := range sc.peers {
		sc.addrs = append(sc.addrs, string(p.Address))
	}
	calls := n.net.rpcCli.Multicall(ctx, sc.addrs, req, rpc.MulticallOptions{First: need, Direct: true})
	defer calls.Close()
	for {
		r, ok := calls.Next()
		if !ok {
			return sc.acks
		}
		if r.Err != nil {
			continue
		}
		resp := &sc.resp
		*resp = wire.ConfirmResponse{}
		if wire.Decode(r.Frame, resp) != nil || !resp.Status.OK() || resp.Term != term {
			calls.SendRest() // a refusal: ask the others now
			continue
		}
		sc.acks = append(sc.acks, quorum.Ack{ID: string(sc.peers[r.Index].ID), Term: resp.Term, LeaderID: resp.LeaderID, RefusesCandidatesFor: resp.RefusesCandidatesFor})
		if len(sc.acks) >= need {
			return sc.acks
		}
	}
}

// remoteReadIndex asks the leader for a read index (a follower's round,
// run by the followerStrong and followerLease batchers).
func (n *Node) remoteReadIndex(ctx context.Context, level consistency.Level) (uint64, error) {
	ep := n.lead.epoch.Load()
	if ep.leaderAddr == "" || ep.isLeader {
		return 0, errRetryElsewhere
	}
	return n.readIndexFrom(ctx, ep, level)
}

// readIndexFrom asks the leader of ep for a read index. A Strong request
// carries this follower's voucher, and the stamp in the answer is kept
// for the next one (readvoucher.go).
func (n *Node) readIndexFrom(ctx context.Context, ep *epoch, level consistency.Level) (_ uint64, err error) {
	defer func() { n.stats.forwardedRead(level, err) }()
	addr := ep.leaderAddr
	req := wire.ReadIndexRequest{Level: uint8(level), Timeout: requestTimeout(ctx, 0)}
	if level == consistency.Strong {
		req.Voucher = n.voucher(ep)
	}
	resp, err := n.callReadIndex(ctx, addr, req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		}
		return 0, fmt.Errorf("%w: read index from %s: %w", errRetryElsewhere, addr, err)
	}
	if err := statusError(resp.Status); err != nil {
		return 0, err
	}
	if resp.Stamp != 0 {
		ep.stamp.Store(resp.Stamp)
	}
	return resp.Index, nil
}

// callReadIndex is n.call for a ReadIndexRequest, spelled out with the
// concrete message types so that neither message escapes to the heap
// through the wire.Message interface.
func (n *Node) callReadIndex(ctx context.Context, addr string, req wire.ReadIndexRequest) (wire.ReadIndexResponse, error) {
	body, err := req.MarshalBinary()
	if err != nil {
		return wire.ReadIndexResponse{}, fmt.Errorf("raftsync: encoding %v: %w", req.MessageType(), err)
	}
	out, err := n.net.rpcCli.Call(ctx, addr, wire.Frame{Type: req.MessageType(), ID: n.net.rpcSeq.Add(1), Body: body})
	if err != nil {
		return wire.ReadIndexResponse{}, err
	}
	resp, err := decodeReadIndexResponse(out)
	if err != nil {
		return wire.ReadIndexResponse{}, fmt.Errorf("%w: decoding answer from %s: %w", rpc.ErrNoResponse, addr, err)
	}
	return resp, nil
}

// decodeReadIndexResponse is wire.Decode into a ReadIndexResponse, with
// the common case (a frame of its own type) decoded without an interface.
func decodeReadIndexResponse(f wire.Frame) (wire.ReadIndexResponse, error) {
	var resp wire.ReadIndexResponse
	if f.Type == resp.MessageType() {
		err := resp.UnmarshalBinary(f.Body)
		return resp, err
	}
	m := new(wire.ReadIndexResponse)
	err := wire.Decode(f, m)
	return *m, err
}

// isNotSent reports whether err proves the request never reached the
// server.
func isNotSent(err error) bool { return errors.Is(err, rpc.ErrNotSent) }
