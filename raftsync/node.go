package raftsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/changefeed"
	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/internal/quorum"
	"github.com/raftkit/raftkit/internal/readystate"
	"github.com/raftkit/raftkit/internal/roundbatch"
	"github.com/raftkit/raftkit/internal/rpc"
	"github.com/raftkit/raftkit/internal/wire"
	"github.com/raftkit/raftkit/readiness"
)

// Node is one member of a raftkit cluster: a hashicorp/raft instance with
// its storage, transport and RPC, the application's FSM wrapped so the node
// knows what it has applied, readiness tracking and consistent reads.
//
// All methods are safe for concurrent use. After Close (or Leave) every
// method returns ErrClosed.
type Node struct {
	cfg    Config
	logger hclog.Logger
	clock  clock.Clock

	store *storage
	fsm   *fsm
	raft  *raft.Raft // published to RPC handlers by life.started

	net     network    // listener, raft's transport, RPC
	lead    leadership // epochs, the lease and quorum rounds, transfers
	peers   peers      // the cluster's identity and members, this node's place in it
	life    lifecycle  // background work, start and close
	monitor monitor    // readiness tracking and change notification

	persist   *persister       // records the applied index durably
	snapshots *snapshotTrigger // snapshots at Config.Snapshot.Threshold
	pilot     *pilot           // nil when Config.Autopilot.Disabled
	stats     nodeStats        // counters behind Metrics (metrics.go)
}

// Open starts a node: it locks and opens Dir, recovers the application's
// state from the local snapshot and log up to the persisted applied index
// (without waiting for any other node), starts raft and the listener, and
// then bootstraps or joins a cluster as the Config asks.
//
// Open does everything or nothing: on error, every file, port and goroutine
// it took is released. ctx and Config.JoinTimeout (default 1 minute) bound
// the join (a joining node retries its targets until either ends), so Open
// returns within JoinTimeout plus the local recovery even with
// context.Background(); cancelling ctx does not undo a join the cluster
// already committed. Open does not wait for the node to be ready: call
// WaitReady before serving.
//
// Errors: *ConfigError (ErrInvalidConfig) for a bad Config, for a Dir
// recorded for another node ID (field ID) or, with Config.ClusterID set,
// for another cluster (field ClusterID, also ErrClusterMismatch), and for
// a Dir without raft state when neither Bootstrap nor Join is set (field
// Join); ErrDirLocked; ErrClusterMismatch from a join target of another
// cluster; a recovery error (a corrupt snapshot or log); ErrJoinTimeout
// when JoinTimeout passes before a member accepted the node, or the
// context's error when ctx ends first, each naming the targets and the
// last failure.
func Open(ctx context.Context, cfg Config, app raft.FSM) (_ *Node, err error) {
	if app == nil {
		return nil, &ConfigError{Field: "fsm", Reason: "must not be nil"}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rc, err := cfg.raftConfig()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:    cfg,
		logger: cfg.Logger.Named("node").With("id", cfg.ID),
		clock:  nodeClock(cfg.Clock),
	}
	n.lead.heartbeatTimeout = rc.HeartbeatTimeout
	n.lead.electionTimeout = rc.ElectionTimeout
	n.monitor.kick = make(chan struct{}, 1)
	n.life.futures = newFutureWaits()
	n.life.ctx, n.life.cancel = context.WithCancel(context.Background())
	n.monitor.tracker = readystate.NewTracker(cfg.Readiness, n.clock)
	opened := time.Now()
	n.monitor.tracker.OnChange(func(old, now readiness.Status) { n.stats.readinessChanged(opened, old, now) })
	n.monitor.coalescer = changefeed.NewCoalescer(cfg.ChangeWindow, n.clock)
	if cfg.OnReadinessChange != nil {
		n.monitor.tracker.OnChange(cfg.OnReadinessChange)
	}
	n.lead.lease = quorum.NewLease(n.clock)
	n.lead.stamps = newReadStamps()
	n.lead.epoch.Store(newEpoch("", "", 0, false))
	n.monitor.tracker.Update(readystate.Observation{})

	defer func() {
		if err != nil {
			n.shutdown()
		}
	}()

	n.store, err = openStorage(cfg.Dir, cfg.LogStore, cfg.WrapStores, cfg.Snapshot.Retain, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if err := n.checkDir(); err != nil {
		return nil, err
	}
	stored, err := n.store.clusterID()
	if err != nil {
		return nil, err
	}
	cluster, err := chooseClusterID(stored, cfg.ClusterID, cfg.Bootstrap, newClusterID)
	if err != nil {
		return nil, fmt.Errorf("%w (Dir %s)", err, cfg.Dir)
	}
	n.setClusterID(cluster)
	n.fsm = newFSM(app, n.store.snapshots, n.store.spoolDir, cfg.Logger.Named("fsm"))
	n.fsm.stats = &n.stats
	record := &recordStore{s: n.store.applied}
	n.persist = newPersister(persisterDeps{
		file:      record,
		policy:    cfg.Persist,
		clock:     n.clock,
		position:  n.fsm.position,
		logs:      n.store.logs,
		nodeID:    cfg.ID,
		clusterID: n.ClusterID,
		logger:    n.logger,
	})

	// Local recovery: bring the application to the persisted applied
	// index from the local snapshot and log, before raft starts.
	n.monitor.tracker.Update(readystate.Observation{Recovering: true})
	rec, err := recoverLocal(recoveryDeps{
		snapshots: n.store.snapshots,
		logs:      n.store.logs,
		record:    record,
		fsm:       n.fsm,
		spoolDir:  n.store.spoolDir,
		nodeID:    cfg.ID,
		clusterID: n.ClusterID(),
		logger:    n.logger,
	})
	if err != nil {
		return nil, err
	}
	n.persist.start(n.life.ctx, &n.life.wg, rec.persisted)
	n.monitor.recovered.Store(true)
	n.monitor.tracker.Update(readystate.Observation{Recovered: true, Applied: n.fsm.applied.Index(), Persisted: n.persist.index()})
	n.logger.Info("local recovery done", "snapshot_index", rec.snapshotIndex,
		"replayed", rec.replayed, "applied_index", n.fsm.applied.Index(), "persisted_index", rec.persisted,
		"durable_index", rec.durable, "took", rec.took)

	if err := n.startNetwork(); err != nil {
		return nil, err
	}
	hasState, err := raft.HasExistingState(n.store.logs, n.store.stable, n.store.snapshots)
	if err != nil {
		return nil, fmt.Errorf("raftsync: checking existing state: %w", err)
	}
	if !hasState && cfg.Bootstrap {
		if err := n.bootstrap(rc); err != nil {
			return nil, err
		}
	}
	// A restarted voter may have promised a leader, before it went down,
	// not to vote for anyone else for a while: keep the promise.
	restart, err := n.loadRestart(hasState)
	if err != nil {
		return nil, err
	}
	n.net.fence = newVoteFence(n.net.trans, restart.fence, n.voteRefusal(rc), n.confirmTransfer, n.transferWindow())
	n.net.fence.promises = restart.promises
	n.raft, err = raft.NewRaft(rc, n.fsm, n.store.logs, n.store.stable, n.store.snapshots, n.net.fence)
	if err != nil {
		return nil, fmt.Errorf("raftsync: starting raft: %w", err)
	}
	n.life.started.Store(true) // publishes n.raft to the RPC handlers
	n.startBackground()
	n.startEarlyElection(restart)

	if !hasState && !cfg.Bootstrap && len(cfg.Join) > 0 {
		jctx, cancel := n.joinContext(ctx)
		err := n.join(jctx)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	// The Dir now holds, or is being sent, this node's raft state.
	if err := n.store.recordNodeID(cfg.ID); err != nil {
		return nil, err
	}
	n.updateReadiness()
	return n, nil
}

// chooseClusterID settles the cluster identity from the one stored in Dir
// and the one Config pins: a stored identity wins, and one that differs
// from Config's is refused with ErrClusterMismatch; a bootstrapping node
// without either takes a new one from generate; otherwise Config's (which
// may be empty until a join tells it).
func chooseClusterID(stored, configured string, bootstrap bool, generate func() (string, error)) (string, error) {
	switch {
	case stored != "" && configured != "" && stored != configured:
		return "", fmt.Errorf("%w: Dir belongs to cluster %q, Config.ClusterID is %q", ErrClusterMismatch, stored, configured)
	case stored != "":
		return stored, nil
	case bootstrap && configured == "":
		return generate()
	}
	return configured, nil
}

// newClusterID returns a random cluster identity.
func newClusterID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("raftsync: generating cluster id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (n *Node) bootstrap(rc *raft.Config) error {
	if err := n.store.setClusterID(n.ClusterID()); err != nil {
		return err
	}
	conf := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter,
		ID:       raft.ServerID(n.cfg.ID),
		Address:  raft.ServerAddress(n.net.advertise),
	}}}
	if err := raft.BootstrapCluster(rc, n.store.logs, n.store.stable, n.store.snapshots, n.net.trans, conf); err != nil {
		return fmt.Errorf("raftsync: bootstrapping: %w", err)
	}
	n.logger.Info("bootstrapped new cluster", "cluster_id", n.ClusterID())
	return nil
}

// startNetwork binds Addr and starts the listener mux, raft's transport and
// the RPC server and client.
func (n *Node) startNetwork() error {
	ln, err := net.Listen("tcp", n.cfg.Addr)
	if err != nil {
		return &ConfigError{Field: "Addr", Reason: err.Error(), Err: err}
	}
	n.net.advertise = n.cfg.AdvertiseAddr
	if n.net.advertise == "" {
		tcp := ln.Addr().(*net.TCPAddr)
		if tcp.IP.IsUnspecified() {
			ln.Close()
			return &ConfigError{Field: "AdvertiseAddr", Reason: "required when Addr binds an unspecified address (" + n.cfg.Addr + ")"}
		}
		n.net.advertise = tcp.String()
	}
	adv, err := net.ResolveTCPAddr("tcp", n.net.advertise)
	if err != nil {
		ln.Close()
		return &ConfigError{Field: "AdvertiseAddr", Reason: err.Error()}
	}
	netLogger := n.cfg.Logger.Named("net")
	if n.cfg.TLS == nil && plaintextExposed(ln.Addr()) {
		n.logger.Warn("no TLS: every host that can reach this address can act as a cluster member "+
			"(join, write, remove members); set Config.TLS unless this network is trusted that far", "addr", ln.Addr())
	}
	n.net.mux = mux.New(ln, n.cfg.TLS, netLogger, mux.Options{Admit: n.admitConn})
	dialer := mux.Dialer{TLS: n.cfg.TLS, Timeout: raftDialTimeout, DialContext: n.cfg.DialContext}
	stream := mux.NewStreamLayer(n.net.mux.Listener(mux.KindRaft), adv, dialer)
	n.net.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		Timeout: raftRPCTimeout,
		Logger:  n.cfg.Logger.Named("transport"),
		// One AppendEntries in flight per follower: no pipelining. raft
		// v1.7.3's pipeline deadlocks when a follower refuses an append
		// (a failing disk) while requests are in flight: the sender blocks
		// handing a request to the response decoder, which blocks handing
		// a response to the consumer that stopped at the refusal. The
		// leader then never replicates to that follower again and cannot
		// shut down (found by the fault suite's
		// TestFollowerDiskFaultsDoNotWedgeReplication).
		MaxRPCsInFlight: 1,
	})
	maxBody := n.maxRPCBody()
	n.net.rpcSrv = rpc.NewServer(n.net.mux.Listener(mux.KindRPC), n.handleRPC, rpc.ServerOptions{
		MaxBody:     maxBody,
		Logger:      netLogger.Named("rpc"),
		ConnContext: n.connContext,
		// Confirmations and transfer checks only read raft's state:
		// answer them at once.
		Inline: func(t wire.Type) bool {
			return t == wire.TypeConfirmRequest || t == wire.TypeTransferCheckRequest
		},
	})
	n.net.rpcCli = rpc.NewClient(rpc.ClientOptions{
		MaxBody: maxBody,
		Dialer:  dialer,
		Logger:  netLogger.Named("rpc-client"),
	})
	n.life.wg.Add(1)
	go func() {
		defer n.life.wg.Done()
		if err := n.net.rpcSrv.Serve(); err != nil {
			n.logger.Error("rpc server stopped", "error", err)
		}
	}()
	return nil
}

// voteRefusal builds what the vote fence answers with: raft's RPC header
// for this node and raft's current term. Before raft runs (the fence is
// built first) the term is 0: a refusal carrying a term below the
// candidate's is still a refusal, since raft's candidate steps down only
// for a higher term (raft.go, the vote tally in runCandidate). So nothing
// is read from raft's private stable-store keys.
func (n *Node) voteRefusal(rc *raft.Config) func() (raft.RPCHeader, uint64) {
	header := raft.RPCHeader{
		ProtocolVersion: rc.ProtocolVersion,
		ID:              []byte(rc.LocalID),
		Addr:            n.net.trans.EncodePeer(rc.LocalID, raft.ServerAddress(n.net.advertise)),
	}
	return func() (raft.RPCHeader, uint64) {
		if !n.life.started.Load() { // publishes n.raft
			return header, 0
		}
		return header, n.raft.CurrentTerm()
	}
}

// startBackground starts the goroutines the node owns once raft runs.
func (n *Node) startBackground() {
	n.lead.leaderRounds = roundbatch.New(n.leaderRound, roundbatch.Options{})
	n.lead.followerStrong = roundbatch.New(func(ctx context.Context) (uint64, error) {
		return n.remoteReadIndex(ctx, consistency.Strong)
	}, roundbatch.Options{})
	n.lead.followerLease = roundbatch.New(func(ctx context.Context) (uint64, error) {
		return n.remoteReadIndex(ctx, consistency.Lease)
	}, roundbatch.Options{})
	n.snapshots = newSnapshotTrigger(snapshotTriggerDeps{
		threshold: n.cfg.Snapshot.Threshold,
		take:      n.takeSnapshot,
		list:      n.store.snapshots.List,
		state: func() snapshotState {
			s := n.fsm.snapshotState()
			s.ready = n.monitor.tracker.Status().State == readiness.Ready
			return s
		},
		ctx:    n.life.ctx,
		wg:     &n.life.wg,
		logger: n.logger,
	})
	cb := func(applied uint64) {
		n.monitor.coalescer.Applied(applied)
		n.persist.notifyApplied(applied)
		n.snapshots.applied(applied)
		// A Ready node's state does not wait on the applied index (the
		// lag bound is checked on the monitor's tick): wake the monitor
		// per batch only while the index can make the node Ready.
		if n.monitor.tracker.Status().State != readiness.Ready {
			n.kickMonitor()
		}
	}
	n.fsm.onApplied.Store(&cb)
	n.monitor.tracker.OnChange(func(old, now readiness.Status) {
		if now.State == readiness.Ready {
			n.monitor.coalescer.SetReady(true)
		}
	})
	n.life.wg.Add(1)
	go func() {
		defer n.life.wg.Done()
		n.runMonitor()
	}()
	n.startAutopilot()
}

// Close shuts the node down: it snapshots first when at least
// Snapshot.Threshold applied entries follow the newest snapshot (waiting
// at most 5 s; see snapshotBeforeClose), stops serving calls (they return
// ErrClosed; other nodes asking this one, if it leads, wait for the next
// leader), lets the writes and membership changes it already handed to
// raft finish for up to ElectionTimeout, ends the lease, shuts raft down,
// records the final applied index durably and releases every file, port
// and goroutine. The node stays a member of the cluster; use Leave to
// leave it. Close is idempotent and returns the first error of the first
// call.
func (n *Node) Close() error {
	n.life.closeOnce.Do(func() {
		n.snapshotBeforeClose()
		n.life.closed.Store(true)
		n.life.closeErr = n.shutdown()
	})
	return n.life.closeErr
}

// shutdown tears down whatever Open built, in reverse order. It tolerates
// partially built nodes.
func (n *Node) shutdown() error {
	var errs []error
	if n.life.futures != nil && n.raft != nil {
		// Changes already handed to raft commit (or fail) while raft
		// still runs, so their callers, here or forwarding, learn the
		// outcome; new ones are refused as not started.
		if !n.life.futures.drain(n.lead.electionTimeout) {
			n.logger.Warn("closing with changes still in flight; their outcome is unknown to their callers", "waited", n.lead.electionTimeout)
		}
	}
	if n.lead.lease != nil {
		n.lead.lease.Revoke()
	}
	n.life.cancel()
	n.lead.closeRounds()
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
	}
	// raft answers nothing more: release whoever still waits on a future.
	n.life.futures.stop()
	if n.net.fence != nil {
		n.net.fence.Close()
	}
	if n.net.trans != nil {
		// raft's Close stops the listener but leaves pooled outbound
		// connections open; the peers' handlers would wait on them.
		n.net.trans.CloseStreams()
		n.net.trans.Close()
	}
	if n.net.rpcCli != nil {
		n.net.rpcCli.Close()
	}
	if n.net.rpcSrv != nil {
		n.net.rpcSrv.Close()
	}
	if n.net.mux != nil {
		n.net.mux.Close()
	}
	n.life.wg.Wait()
	if n.persist != nil {
		errs = append(errs, n.persist.final())
	}
	if n.fsm != nil {
		n.fsm.applied.Close()
	}
	if n.monitor.coalescer != nil {
		n.monitor.coalescer.Close()
	}
	if n.monitor.tracker != nil {
		last := n.monitor.tracker.Status()
		if n.persist != nil {
			last.Persisted = n.persist.index()
		}
		n.monitor.tracker.Update(readystate.Observation{Closed: true, Applied: last.Applied, Persisted: last.Persisted,
			SyncIndex: last.SyncIndex, CommitIndex: last.CommitIndex})
	}
	if n.store != nil {
		errs = append(errs, n.store.close())
	}
	return errors.Join(errs...)
}

func (n *Node) kickMonitor() {
	select {
	case n.monitor.kick <- struct{}{}:
	default:
	}
}

// Addr returns the address the node listens on (the bound address when
// Config.Addr asked for port 0).
func (n *Node) Addr() string {
	if n.net.mux == nil {
		return ""
	}
	return n.net.mux.Addr().String()
}

// AdvertiseAddr returns the address other members use to reach the node.
func (n *Node) AdvertiseAddr() string { return n.net.advertise }

// ID returns the node's ID.
func (n *Node) ID() string { return n.cfg.ID }

// ClusterID returns the cluster's identity: generated at bootstrap, learned
// at join, stored in Dir.
func (n *Node) ClusterID() string {
	if p := n.peers.cluster.Load(); p != nil {
		return *p
	}
	return ""
}

func (n *Node) setClusterID(id string) { n.peers.cluster.Store(&id) }

// Raft returns the underlying *raft.Raft. It is an escape hatch for
// introspection and tuning; calls that change state behind the node's back
// void its guarantees: LeadershipTransfer bypasses TransferLeadership and
// is refused by the other nodes' transfer checks, Barrier entries are invisible to the applied
// index, and Apply skips forwarding.
func (n *Node) Raft() *raft.Raft { return n.raft }
