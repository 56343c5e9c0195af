// Package raftsync is the raftkit node: a hashicorp/raft member with its
// storage, one network address, membership, forwarded writes, readiness and
// consistent reads, around an application's own raft.FSM.
//
// # Usage
//
//	node, err := raftsync.Open(ctx, raftsync.Config{
//		ID:        "gw-1",           // stable across restarts
//		Dir:       "/var/lib/gw",    // raft log, snapshots, applied-index record
//		Addr:      "10.0.0.1:7000",  // raft and node RPC share this address
//		Bootstrap: true,             // first node of a new cluster
//		// Join: []string{"10.0.0.2:7000"}, NonVoter: true, TLS: tlsConf, ...
//	}, fsm)
//	if err != nil { ... }
//	defer node.Close()
//
//	if err := node.WaitReady(ctx); err != nil { ... } // before serving
//	res, err := node.Apply(ctx, cmd)                  // on any node
//	err = node.Read(ctx, consistency.Strong, func() error {
//		v = fsm.Get(k) // runs only once the read is linearizable
//		return nil
//	})
//
// # What the node adds to raft
//
// Recovery: Open brings the FSM to the applied index recorded before the
// node went down (P), from the local snapshot and log, before it returns and
// without any other node. raft alone applies nothing past its snapshot until
// a leader speaks. An FSM implementing DurableFSM skips the snapshot and the
// entries it already holds.
//
// Readiness: WaitReady, Readiness, WatchReadiness, ReadyHandler and
// LiveHandler say when the node may serve (package readiness defines the
// states), and SubscribeChanges tells an application when to rebuild derived
// state: once at Ready, then coalesced.
//
// Writes: Apply works on every node; followers forward to the leader over
// the node RPC and never send a command twice, and wait for the next leader
// within ctx when the leader closes. The answer is the same on every node:
// the response through Config.ResponseCodec, an FSM error as an
// *ApplyError unwrapping to a sentinel registered in Config.ApplyErrors.
// An outcome that cannot be known is reported as ErrIndeterminate rather
// than guessed; a write known committed whose response could not come back
// is ErrCommittedNoResponse, with its index. ErrClosed always means the
// node called is closed. docs/apply.md has the table of what each error
// tells the caller to do.
//
// Reads: Read, ReadIndex and WaitIndex give the Strong, Lease and Stale
// levels of package consistency on leaders, followers and non-voters, and
// read-your-writes across nodes. With Config.ReadFence no node serves older
// state than it served before, across crashes, at any level; Fence covers
// a read made after ReadIndex.
//
// Membership: Bootstrap, Join (through any member), NonVoter, Leave,
// RemoveServer and TransferLeadership. Autopilot (Config.Autopilot, on by
// default) admits a joining voter as a non-voter and promotes it once
// stable, removes members dead for long, and reports per-member health and
// the failure tolerance in Status; see docs/membership.md.
//
// Security: with Config.TLS every connection is mutual TLS, and a peer's
// certificate must name the member it acts as (a DNS SAN equal to its ID,
// or NodeURI); Config.Authorize replaces that rule (DefaultAuthorize).
// Requests in flight are bounded per connection and per node. Without TLS
// every host that reaches Addr is, in effect, a member. docs/SECURITY.md
// has the threat model and the production set-up.
//
// Observability: Status (and StatusHandler, its JSON) shows membership,
// leader, indexes, readiness, last contact and the read lease; Metrics
// returns the node's counters and gauges, which package promexport
// publishes to Prometheus with raft's own (docs/metrics.md lists them).
//
// Logging: Config.Logger at Info logs no ERROR for routine operations
// (start, shutdown, leave, restart); raft's routine messages are demoted
// and a peer that cannot be reached is reported at WARN at most once per
// PeerWarnPeriod; see docs/logging.md.
//
// # The caller's duties
//
//  1. Keep ID stable for a Dir, and never copy a Dir to another node (Open
//     refuses a Dir recorded for another ID with a *ConfigError).
//  2. Call WaitReady before serving, and watch readiness afterwards.
//  3. Make the FSM deterministic; return errors from Apply as values (the
//     node returns them to the caller of Apply as *ApplyError), and register
//     the sentinels callers test for in Config.ApplyErrors.
//  4. Close the node on shutdown; Leave it when it goes away for good.
//  5. Reach raft through Raft() only to look: see its doc for what bypasses
//     the node's guarantees.
//  6. Set Config.TLS on any network where not every host may be a member,
//     with one certificate per node that names its ID.
package raftsync
