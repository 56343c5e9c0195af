// Package store is the gateway's replicated state machine: the route table
// and the upstream groups, as a raft.FSM that package raftsync drives.
//
// # What the rest of the gateway needs
//
// Store is the interface the admin API and the data plane use. Besides the
// reads (Route, Routes, Group, Groups), it answers the data plane's one
// question after a change notification: which routes changed since index N
// (ChangedSince). For that it keeps, per route, the index of the last
// command that affected it, and for deleted routes a bounded set of
// tombstones. When the tombstones needed to answer have been dropped (or a
// snapshot from far ahead replaced the state), ChangedSince returns
// ErrCompacted and the data plane rebuilds its table from Resolved instead.
//
// # Swapping the state machine
//
// Mem is in memory, with JSON snapshots (framed and checksummed by
// raftsync): a restart restores the latest snapshot and replays the log
// tail, which for configuration-sized state takes milliseconds. A durable
// state machine (for example one in bbolt that records, in the same
// transaction as the data, the index it has applied) slots in by
// implementing Store and raftsync.DurableFSM: the node then skips what it
// already holds at restart. Nothing outside this package names Mem except
// the line in main that constructs it.
//
// Every command is validated again here when it is applied (see
// route.DecodeCommand), so nothing malformed enters the state whoever wrote
// the log entry. Refusals that depend on the state (an ID that exists, a
// group in use) are answered with a route.Rejection, which raftsync carries
// back to the node that called Apply.
package store
