// Package consistency holds the words a raftkit read is named with: the
// [Level] (Strong, Lease or Stale), the node's [Options] (bounds for Stale
// reads, the lease's clock-drift allowance), the per-read [ReadOption]s,
// and what a read reports back ([ReadInfo], [TooStaleError]). A
// raftsync.Node serves the reads; the machinery that decides them lives
// inside raftkit.
//
// # Levels
//
// Every read names a [Level]:
//
//   - [Strong] (the zero value): linearizable, no clock assumption. The
//     leader takes its commit index as the read index, confirms it is still
//     leader with one quorum round shared by all reads waiting at that
//     moment, waits until its state machine has applied the read index,
//     then runs the read. A follower asks the leader for a read index and
//     waits for it locally; where the two are a quorum of the voters (three
//     voters), the follower's request stands in for the leader's round, so
//     the read costs one round trip (docs/consistency.md).
//   - [Lease]: linearizable while clock rates differ by less than
//     [LeaseOptions.DriftRatio]. The leader serves at its commit index with
//     no round trip while its lease holds and renews the lease with a
//     quorum round when it does not.
//   - [Stale]: local state, no communication, within the optional
//     [StaleBounds] on time since leader contact (on the leader: since a
//     quorum last confirmed it) and index lag. The node's bounds come from
//     raftsync.Config.Consistency.Stale; one read can set its own with
//     [WithMaxStaleness] and [WithMaxLag].
//
// # Usage
//
//	err := node.Read(ctx, consistency.Strong, func() error { v = fsm.Get(k); return nil })
//	info, err := node.ReadIndex(ctx, consistency.Stale, consistency.WithMaxStaleness(time.Second))
//	var tse *consistency.TooStaleError
//	if errors.As(err, &tse) { ... } // errors.Is(err, consistency.ErrTooStale) holds too
//
// Nothing is read before the level's check has passed. A new leader serves
// no Strong or Lease read before an entry of its own term is committed and
// applied. docs/consistency.md explains why each level holds (the
// read-index protocol and the lease of the Raft thesis, Ongaro 2014,
// §6.4 and §6.4.1) and what the lease assumes about clocks and restarts.
package consistency
