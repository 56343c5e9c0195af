// Package readystate decides a node's readiness.State from Observations:
// the pure core behind raftsync's WaitReady, readiness probes and readiness
// watches. The rules (what Recovered, Ready and Degraded mean, and how a
// Ready node moves only between Ready and Degraded) are documented in
// package readiness and docs/readiness.md.
//
// # Usage
//
// The node (raftsync) builds one Tracker per run and calls Tracker.Update
// with an Observation on every relevant event (recovery progress, applied
// index, leader change, a new sync point, Close) and on a ticker of about
// 100ms, since Degraded depends on time passing. It clears
// Observation.SyncKnown when the leader changes and sets it again with the
// new S. Tracker.WaitReady, Tracker.Watch and Tracker.Status serve the
// application through raftsync.Node.
//
//	tr := readystate.NewTracker(readiness.Policy{}, nil)
//	st := tr.Update(readystate.Observation{Recovered: true, Applied: a, Persisted: p,
//		LeaderID: leader, SyncIndex: s, SyncKnown: true, CommitIndex: c})
//	if _, err := tr.WaitReady(ctx); err != nil { ... }
//
// # Notifications
//
// Watch channels have a buffer of one, are seeded with the current Status
// and keep only the newest value, so a slow reader never blocks Update and
// always sees the latest state. OnChange callbacks run synchronously from
// Update, in order, without the Tracker's lock held, and must not block.
// Wait and WaitReady see every Status the Tracker produces while they wait.
// Nothing here starts a long-lived goroutine; the clock is injected.
package readystate
