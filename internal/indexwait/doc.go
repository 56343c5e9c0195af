// Package indexwait lets goroutines wait, without polling, until a
// monotonically increasing index (a Raft log index: the applied index, the
// persisted applied index) reaches a value.
//
// The producer calls Advance as the index grows; each waiter blocks in Wait
// until the index is at least the one it asked for, its context ends, or the
// Waiter is closed. Waiters are kept in a min-heap by target index, so an
// Advance wakes exactly the waiters it satisfies and costs O(k log n) for k
// woken waiters, not a scan of all of them.
package indexwait
