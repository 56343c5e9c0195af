// Package raftkit is an embeddable library for configuration state that
// must be identical on every node of a cluster — an API gateway's routes, a
// scheduler's jobs, a feature-flag table — built on hashicorp/raft.
//
// It adds what applications on raw raft end up writing by hand:
//
//   - readiness: after a start, restart or join, a node knows when it may
//     serve and says so (package readiness, raftsync.Node.WaitReady);
//   - read consistency: every read names its level, Strong, Lease or Stale,
//     and the library makes it true on leaders and followers alike (package
//     consistency, raftsync.Node.Read);
//   - snapshots and fast recovery: checksummed snapshots, backup and
//     restore, durable FSMs that do not replay what they hold (package
//     snapshot).
//
// Start with package raftsync: Open a Node around your raft.FSM. The
// examples directory has a runnable quickstart and a clustered API gateway.
package raftkit
