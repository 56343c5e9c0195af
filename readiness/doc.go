// Package readiness holds the words a raftkit application uses to ask when
// a node may serve: the State, the Status a node reports, the Policy that
// tunes it, HTTP probes, and change subscriptions. A *raftsync.Node reports
// them (Readiness, WatchReadiness, WaitReady, ReadyHandler,
// SubscribeChanges); the machinery that decides lives inside raftkit.
//
// After a start, a restart or a join a node holds some prefix of the
// replicated state. Serving from it too early returns state older than the
// cluster's, or older than what this node served before it went down.
//
// # Definitions
//
//   - The applied index: the highest log index the application FSM has
//     finished applying.
//   - The persisted index: the last durable record of the applied index
//     (checksummed, carrying the node and cluster identity, so a torn or
//     foreign record is detected and never trusted), written as
//     PersistPolicy says. Entries up to it are known committed, so a
//     restarting node re-applies them from its own snapshot and log
//     without waiting for a leader.
//   - The sync point: the leader's commit index obtained after
//     this start. On the leader, once an entry of its own term is committed
//     and applied; on a follower, a read index obtained from the leader.
//
// # States
//
//	Starting → Recovering → Recovered → CatchingUp → Ready ⇄ Degraded
//	                             (any state but Closed) ⇄ Removed
//	                                      (any state) → Closed
//
// Recovered means applied ≥ persisted: the node holds at least what it had
// recorded. Ready means recovered, a leader is known and applied ≥ sync
// point; every Ready Status satisfies
// Status.ReadyInvariantHolds. After its first Ready a node moves only
// between Ready and Degraded: it becomes Degraded when it has had no leader,
// no contact with it, or no reached sync point for longer than
// Policy.LeaderLossBound (measured with the clock from when it was first
// seen), or when it lags the commit index by more than Policy.MaxLag. A
// leader change inside the bound keeps it Ready. It returns to Ready only
// when all is well again. Removed (the node was a member and the latest
// cluster configuration no longer names it) wins over every state but
// Closed; WaitReady then fails with raftsync.ErrRemoved.
//
// # Usage
//
//	node, err := raftsync.Open(ctx, raftsync.Config{ /* ... */
//		Readiness: readiness.Policy{LeaderLossBound: 3 * time.Second},
//	}, fsm)
//	if err := node.WaitReady(ctx); err != nil { ... } // before serving
//	mux.Handle("/readyz", readiness.ReadyHandler(node))
//	mux.Handle("/livez", readiness.LiveHandler(node))
//	sub := node.SubscribeChanges()
//	defer sub.Close()
//	for ch := range sub.C() { rebuild(ch.From, ch.To, ch.Initial) }
//
// Watch channels (raftsync.Node.WatchReadiness) have a buffer of one, are
// seeded with the current Status and keep only the newest value, so a slow
// reader never blocks the node and always sees the latest state.
// docs/readiness.md explains the reasoning behind each rule.
package readiness
