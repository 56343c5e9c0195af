// Package quorum decides the leader's confirmation rounds and the read
// lease they grant: [EvaluateRound] counts the [Ack]s of one round against
// the voters and returns whether it confirmed the leader's term and until
// when no other node can be elected; [Lease] holds that lease and voids it
// on every event that could break its promises. Both are pure or
// lock-only: no network, no raft, no goroutine. raftsync runs the rounds
// (shared among concurrent reads by package roundbatch) and drives them.
//
// # Usage
//
// The node's duties, in order, for a Strong or Lease read on the leader:
//
//  1. Serve no Strong or Lease read in a new term before an entry of that
//     term is committed and applied (the barrier after election): before
//     it, the commit index may be behind what earlier leaders committed.
//  2. For Lease, if [Lease.Valid] holds for the current term, take
//     the commit index as the read index and go to step 4.
//  3. Otherwise call roundbatch.Batcher.Do. Its roundbatch.RoundFunc calls
//     [Lease.Begin], reads the commit index, reads the clock
//     (sentAt), sends ConfirmRequest to every voter, collects the [Ack]
//     values, calls [EvaluateRound], Grants the lease it returns, and
//     returns the commit index it read, or an error when the round was not
//     confirmed. Do returns the index of a round that started after the
//     read began.
//  4. Wait until the applied index reaches the read index; only then run
//     the read. Nothing is read before the check.
//
// And around them: [Lease.Revoke] when leadership is lost, on
// stepping down, on every membership change and at shutdown;
// [Lease.Suspend] for the length of a leadership transfer, and
// [Lease.VoidUntil] for what the transfer can still set off after it.
//
// # Why a confirmed round makes the read index linearizable
//
// Each voter counted by [EvaluateRound] answered in the leader's term at
// some moment after sentAt. A quorum of them was therefore still in that
// term after the read index was captured, so no leader of a later term can
// have committed anything before then: the read index covers every write
// completed before the read began. This is the read-index protocol of the
// Raft thesis (Ongaro, 2014, §6.4). Unlike raft.VerifyLeader, the round is
// sent after the read arrives, so a reply to an older heartbeat that sat in
// a socket while the leader was paused cannot confirm a deposed leader.
//
// # Why the lease holds
//
// hashicorp/raft voters reject RequestVote while they know a leader (except
// for a leadership transfer) and forget the leader no sooner than
// HeartbeatTimeout after their last contact with it. Each ack reports that
// remaining time as RefusesCandidatesFor, measured no earlier than sentAt. Scaled by
// 1−DriftRatio it is a lower bound on the same span measured by the
// leader's clock, so from sentAt the leader can rely on it, less a Margin
// for scheduling delay. A new leader needs a quorum of votes and every
// quorum meets any quorum of promisers, so until the quorum-th best promise
// (the leader's own counts as unbounded) no other node can be elected.
// This is the lease of the Raft thesis §6.4.1, started when the round is
// sent as the thesis requires, not when replies arrive.
//
// Assumptions the lease rests on, beyond the drift bound: a voter that
// restarts forgets its leader and so its promise, so a restarted node
// should not take part in raft before MaxDuration has passed since it went
// down (in practice: set MaxDuration to HeartbeatTimeout and delay rejoining
// by it); and Suspend plus VoidUntil must cover every moment at which a
// voter may grant a vote on the transfer's behalf (raftsync checks each
// such vote with the leader; see docs/consistency.md).
package quorum
