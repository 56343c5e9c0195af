package raftsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
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
	cfg       Config
	logger    hclog.Logger
	clock     clock.Clock
	cluster   atomic.Pointer[string] // set at Open, or by the join
	advertise string

	store  *storage
	fsm    *fsm
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	fence  *voteFence
	mux    *mux.Mux
	rpcSrv *rpc.Server
	rpcCli *rpc.Client
	rpcSeq atomic.Uint64

	heartbeatTimeout time.Duration
	electionTimeout  time.Duration

	tracker   *readystate.Tracker
	coalescer *changefeed.Coalescer
	persist   *persister

	lease          *quorum.Lease
	transfer       transferGate // the leadership transfer this node runs as leader
	leaderRounds   *roundbatch.Batcher
	followerStrong *roundbatch.Batcher
	followerLease  *roundbatch.Batcher

	epoch atomic.Pointer[epoch]
	// leaseConfig is the configuration the lease was last granted for;
	// the lease is used only while it is raft's latest.
	leaseConfig atomic.Pointer[leaseConfig]
	// quorumContact is the latest leader round that confirmed this node's
	// leadership: a leader's staleness for bounded Stale reads.
	quorumContact atomic.Pointer[quorumContact]
	// members caches the IDs of the latest configuration for checking
	// peers' identities (peerauth.go); membersKey is the configuration
	// they were taken from (configurationKey; the monitor's only).
	members      atomic.Pointer[map[string]struct{}]
	membersKey   *raft.Server
	lastDenyWarn atomic.Int64 // unix nanoseconds of the last refused-request warning

	recovered atomic.Bool
	// membership: whether this node has been in raft's latest
	// configuration in this run, and whether it has since left it.
	membership membership
	// dropObservations makes the monitor's observer drop every raft event
	// (set only by tests, through export_test.go): nothing the node
	// guarantees may depend on an event arriving.
	dropObservations atomic.Bool
	// started is set once raft runs; RPC handlers, which the listener
	// starts before raft, answer "starting" until then.
	started atomic.Bool
	// kick asks the monitor to re-evaluate readiness soon.
	kick chan struct{}

	ctx       context.Context // cancelled by Close; parent of background work
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	futures   *futureWaits // waiters on raft futures; stopped after raft
	snapshots *snapshotTrigger
	pilot     *pilot      // nil when Config.Autopilot.Disabled
	role      roleTracker // this node's own role, for Status
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	stats nodeStats // counters behind Metrics (metrics.go)
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
		cfg:              cfg,
		logger:           cfg.Logger.Named("node").With("id", cfg.ID),
		clock:            nodeClock(cfg.Clock),
		heartbeatTimeout: rc.HeartbeatTimeout,
		electionTimeout:  rc.ElectionTimeout,
		kick:             make(chan struct{}, 1),
		futures:          newFutureWaits(),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.tracker = readystate.NewTracker(cfg.Readiness, n.clock)
	opened := time.Now()
	n.tracker.OnChange(func(old, now readiness.Status) { n.stats.readinessChanged(opened, old, now) })
	n.coalescer = changefeed.NewCoalescer(cfg.ChangeWindow, n.clock)
	if cfg.OnReadinessChange != nil {
		n.tracker.OnChange(cfg.OnReadinessChange)
	}
	n.lease = quorum.NewLease(n.clock)
	n.epoch.Store(newEpoch("", "", 0, false))
	n.tracker.Update(readystate.Observation{})

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
	if err := n.resolveClusterID(); err != nil {
		return nil, err
	}
	n.fsm = newFSM(app, n.store.snapshots, n.store.spoolDir, cfg.Logger.Named("fsm"))
	n.fsm.stats = &n.stats
	n.persist = newPersister(n, &recordStore{s: n.store.applied})

	// Local recovery: bring the application to the persisted applied
	// index from the local snapshot and log, before raft starts.
	n.tracker.Update(readystate.Observation{Recovering: true})
	rec, err := n.recover()
	if err != nil {
		return nil, err
	}
	n.persist.start(rec.persisted)
	n.recovered.Store(true)
	n.tracker.Update(readystate.Observation{Recovered: true, Applied: n.fsm.applied.Index(), Persisted: n.persist.index()})
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
	n.fence = newVoteFence(n.trans, restart.fence, n.voteRefusal(rc), n.confirmTransfer, n.transferWindow())
	n.fence.promises = restart.promises
	n.raft, err = raft.NewRaft(rc, n.fsm, n.store.logs, n.store.stable, n.store.snapshots, n.fence)
	if err != nil {
		return nil, fmt.Errorf("raftsync: starting raft: %w", err)
	}
	n.started.Store(true) // publishes n.raft to the RPC handlers
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

// resolveClusterID settles the cluster identity from the store and the
// Config, refusing a mismatch.
func (n *Node) resolveClusterID() error {
	stored, err := n.store.clusterID()
	if err != nil {
		return err
	}
	want := n.cfg.ClusterID
	switch {
	case stored != "" && want != "" && stored != want:
		return fmt.Errorf("%w: Dir %s belongs to cluster %q, Config.ClusterID is %q", ErrClusterMismatch, n.cfg.Dir, stored, want)
	case stored != "":
		n.setClusterID(stored)
	case n.cfg.Bootstrap && want == "":
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("raftsync: generating cluster id: %w", err)
		}
		n.setClusterID(hex.EncodeToString(b[:]))
	default:
		n.setClusterID(want) // may stay empty until a join tells us
	}
	return nil
}

func (n *Node) bootstrap(rc *raft.Config) error {
	if err := n.store.setClusterID(n.ClusterID()); err != nil {
		return err
	}
	conf := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter,
		ID:       raft.ServerID(n.cfg.ID),
		Address:  raft.ServerAddress(n.advertise),
	}}}
	if err := raft.BootstrapCluster(rc, n.store.logs, n.store.stable, n.store.snapshots, n.trans, conf); err != nil {
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
	n.advertise = n.cfg.AdvertiseAddr
	if n.advertise == "" {
		tcp := ln.Addr().(*net.TCPAddr)
		if tcp.IP.IsUnspecified() {
			ln.Close()
			return &ConfigError{Field: "AdvertiseAddr", Reason: "required when Addr binds an unspecified address (" + n.cfg.Addr + ")"}
		}
		n.advertise = tcp.String()
	}
	adv, err := net.ResolveTCPAddr("tcp", n.advertise)
	if err != nil {
		ln.Close()
		return &ConfigError{Field: "AdvertiseAddr", Reason: err.Error()}
	}
	netLogger := n.cfg.Logger.Named("net")
	if n.cfg.TLS == nil && plaintextExposed(ln.Addr()) {
		n.logger.Warn("no TLS: every host that can reach this address can act as a cluster member "+
			"(join, write, remove members); set Config.TLS unless this network is trusted that far", "addr", ln.Addr())
	}
	n.mux = mux.New(ln, n.cfg.TLS, netLogger, mux.Options{Admit: n.admitConn})
	dialer := mux.Dialer{TLS: n.cfg.TLS, Timeout: raftDialTimeout, DialContext: n.cfg.DialContext}
	stream := mux.NewStreamLayer(n.mux.Listener(mux.KindRaft), adv, dialer)
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
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
	n.rpcSrv = rpc.NewServer(n.mux.Listener(mux.KindRPC), n.handleRPC, rpc.ServerOptions{
		MaxBody:     maxBody,
		Logger:      netLogger.Named("rpc"),
		ConnContext: n.connContext,
		// Confirmations and transfer checks only read raft's state:
		// answer them at once.
		Inline: func(t wire.Type) bool {
			return t == wire.TypeConfirmRequest || t == wire.TypeTransferCheckRequest
		},
	})
	n.rpcCli = rpc.NewClient(rpc.ClientOptions{
		MaxBody: maxBody,
		Dialer:  dialer,
		Logger:  netLogger.Named("rpc-client"),
	})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.rpcSrv.Serve(); err != nil {
			n.logger.Error("rpc server stopped", "error", err)
		}
	}()
	return nil
}

// voteRefusal builds what the vote fence answers with: raft's RPC header
// for this node and its current term, read from the stable store (raft's
// own key) so that it needs nothing from the running raft.
func (n *Node) voteRefusal(rc *raft.Config) func() (raft.RPCHeader, uint64) {
	header := raft.RPCHeader{
		ProtocolVersion: rc.ProtocolVersion,
		ID:              []byte(rc.LocalID),
		Addr:            n.trans.EncodePeer(rc.LocalID, raft.ServerAddress(n.advertise)),
	}
	return func() (raft.RPCHeader, uint64) {
		term, _ := n.store.stable.GetUint64([]byte("CurrentTerm"))
		return header, term
	}
}

// startBackground starts the goroutines the node owns once raft runs.
func (n *Node) startBackground() {
	n.leaderRounds = roundbatch.New(n.leaderRound, roundbatch.Options{})
	n.followerStrong = roundbatch.New(func(ctx context.Context) (uint64, error) {
		return n.remoteReadIndex(ctx, consistency.Strong)
	}, roundbatch.Options{})
	n.followerLease = roundbatch.New(func(ctx context.Context) (uint64, error) {
		return n.remoteReadIndex(ctx, consistency.Lease)
	}, roundbatch.Options{})
	n.snapshots = newSnapshotTrigger(n)
	cb := func(applied uint64) {
		n.coalescer.Applied(applied)
		n.persist.notifyApplied(applied)
		n.snapshots.applied(applied)
		// A Ready node's state does not wait on the applied index (the
		// lag bound is checked on the monitor's tick): wake the monitor
		// per batch only while the index can make the node Ready.
		if n.tracker.Status().State != readiness.Ready {
			n.kickMonitor()
		}
	}
	n.fsm.onApplied.Store(&cb)
	n.tracker.OnChange(func(old, now readiness.Status) {
		if now.State == readiness.Ready {
			n.coalescer.SetReady(true)
		}
	})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
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
	n.closeOnce.Do(func() {
		n.snapshotBeforeClose()
		n.closed.Store(true)
		n.closeErr = n.shutdown()
	})
	return n.closeErr
}

// shutdown tears down whatever Open built, in reverse order. It tolerates
// partially built nodes.
func (n *Node) shutdown() error {
	var errs []error
	if n.futures != nil && n.raft != nil {
		// Changes already handed to raft commit (or fail) while raft
		// still runs, so their callers, here or forwarding, learn the
		// outcome; new ones are refused as not started.
		if !n.futures.drain(n.electionTimeout) {
			n.logger.Warn("closing with changes still in flight; their outcome is unknown to their callers", "waited", n.electionTimeout)
		}
	}
	if n.lease != nil {
		n.lease.Revoke()
	}
	n.cancel()
	for _, b := range []*roundbatch.Batcher{n.leaderRounds, n.followerStrong, n.followerLease} {
		if b != nil {
			b.Close()
		}
	}
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
	}
	// raft answers nothing more: release whoever still waits on a future.
	n.futures.stop()
	if n.fence != nil {
		n.fence.Close()
	}
	if n.trans != nil {
		// raft's Close stops the listener but leaves pooled outbound
		// connections open; the peers' handlers would wait on them.
		n.trans.CloseStreams()
		n.trans.Close()
	}
	if n.rpcCli != nil {
		n.rpcCli.Close()
	}
	if n.rpcSrv != nil {
		n.rpcSrv.Close()
	}
	if n.mux != nil {
		n.mux.Close()
	}
	n.wg.Wait()
	if n.persist != nil {
		errs = append(errs, n.persist.final())
	}
	if n.fsm != nil {
		n.fsm.applied.Close()
	}
	if n.coalescer != nil {
		n.coalescer.Close()
	}
	if n.tracker != nil {
		last := n.tracker.Status()
		if n.persist != nil {
			last.Persisted = n.persist.index()
		}
		n.tracker.Update(readystate.Observation{Closed: true, Applied: last.Applied, Persisted: last.Persisted,
			SyncIndex: last.SyncIndex, CommitIndex: last.CommitIndex})
	}
	if n.store != nil {
		errs = append(errs, n.store.close())
	}
	return errors.Join(errs...)
}

func (n *Node) kickMonitor() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Addr returns the address the node listens on (the bound address when
// Config.Addr asked for port 0).
func (n *Node) Addr() string {
	if n.mux == nil {
		return ""
	}
	return n.mux.Addr().String()
}

// AdvertiseAddr returns the address other members use to reach the node.
func (n *Node) AdvertiseAddr() string { return n.advertise }

// ID returns the node's ID.
func (n *Node) ID() string { return n.cfg.ID }

// ClusterID returns the cluster's identity: generated at bootstrap, learned
// at join, stored in Dir.
func (n *Node) ClusterID() string {
	if p := n.cluster.Load(); p != nil {
		return *p
	}
	return ""
}

func (n *Node) setClusterID(id string) { n.cluster.Store(&id) }

// Raft returns the underlying *raft.Raft. It is an escape hatch for
// introspection and tuning; calls that change state behind the node's back
// void its guarantees: LeadershipTransfer bypasses TransferLeadership and
// is refused by the other nodes' transfer checks, Barrier entries are invisible to the applied
// index, and Apply skips forwarding.
func (n *Node) Raft() *raft.Raft { return n.raft }
