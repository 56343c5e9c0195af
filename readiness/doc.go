// Package readiness decides when a raftkit node may serve, and says so.
//
// After a start, a restart or a join a node holds some prefix of the
// replicated state. Serving from it too early returns state older than the
// cluster's, or older than what this node served before it went down. This
// package is the pure core that decides, from observations, where the node
// stands; package raftsync owns the goroutines, raft and the I/O, and drives
// it. Nothing here imports raftsync or starts a long-lived goroutine.
//
// # Definitions
//
//   - A, the applied index: the highest log index the application FSM has
//     finished applying.
//   - P, the persisted applied index: the last durable record of A, kept in
//     a RecordFile (checksummed, carrying the node and cluster identity, so a
//     torn or foreign record is detected and never trusted). Entries up to P
//     are known committed, so a restarting node re-applies them from its own
//     snapshot and log without waiting for a leader.
//   - S, the cluster sync point: the leader's commit index obtained after
//     this start. On the leader, once an entry of its own term is committed
//     and applied; on a follower, a read index obtained from the leader.
//
// # States
//
//	Starting → Recovering → Recovered → CatchingUp → Ready ⇄ Degraded
//	                             (any state but Closed) ⇄ Removed
//	                                      (any state) → Closed
//
// Recovered means A ≥ P: the node holds at least what it had recorded. Ready
// means recovered, a leader is known and A ≥ S; every Ready Status satisfies
// Status.ReadyInvariantHolds. After its first Ready a node moves only
// between Ready and Degraded: it becomes Degraded when it has had no leader,
// no contact with it, or no reached sync point for longer than
// Policy.LeaderLossBound (measured with the clock from when it was first
// seen, not by counting Updates), or when it lags the commit index by more
// than Policy.MaxLag. A leader change inside the bound keeps it Ready. It
// returns to Ready only when all is well again. Removed (Observation.Removed:
// the node was a member and the latest cluster configuration no longer
// names it) wins over every state but Closed; WaitReady then returns
// ErrRemoved.
//
// # Usage
//
// The node (raftsync) has these duties:
//
//  1. At Open, Load the RecordFile and Check it against the node and cluster
//     identity. ErrNoRecord means P = 0; ErrCorruptRecord or
//     ErrForeignRecord means P is unknown and must be treated as 0 (and
//     logged): a bad record is never trusted.
//  2. Build one Tracker per run and call Tracker.Update with an Observation
//     on every relevant event (recovery progress, applied index, leader
//     change, a new S, Close) and on a ticker of about 100ms, since Degraded
//     depends on time passing. Clear Observation.SyncKnown when the leader
//     changes; set it again with the new S.
//  3. Persist A: ask a Throttle whether a record is Due as A advances (and on
//     the ticker), Store a Record when it is, then call Throttle.Persisted.
//     Store once more at Close.
//  4. Feed a Coalescer: Applied as A advances, SetReady on each readiness
//     transition (an OnChange callback is the natural place).
//  5. Expose Tracker.WaitReady, Tracker.Watch and ReadyHandler /
//     LiveHandler to the application.
//
// A minimal loop looks like this:
//
//	tr := readiness.NewTracker(readiness.Policy{}, nil)
//	tr.OnChange(func(old, new readiness.Status) { co.SetReady(new.State == readiness.Ready) })
//	st := tr.Update(readiness.Observation{Recovered: true, Applied: a, Persisted: p,
//		LeaderID: leader, SyncIndex: s, SyncKnown: true, CommitIndex: c})
//	if _, err := tr.WaitReady(ctx); err != nil { ... }
//	mux.Handle("/readyz", readiness.ReadyHandler(tr))
//
// # Notifications
//
// Watch channels have a buffer of one, are seeded with the current Status
// and keep only the newest value, so a slow reader never blocks Update and
// always sees the latest state. OnChange callbacks run synchronously from
// Update, in order, without the Tracker's lock held, and must not block.
// Wait and WaitReady see every Status the Tracker produces while they wait.
package readiness
