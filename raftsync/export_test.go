package raftsync

// AppEntries returns how many log entries the node passed to the
// application's FSM since Open.
func AppEntries(n *Node) uint64 { return n.fsm.appEntries.Load() }

// LeaderRounds returns how many quorum rounds the node ran as leader.
func LeaderRounds(n *Node) uint64 { return n.leaderRounds.Rounds() }

// DropObservations makes n's monitor lose every raft observation from now
// on, as raft's non-blocking observer loses them under load.
func DropObservations(n *Node) { n.dropObservations.Store(true) }

// MembershipChecks returns how many times n's monitor has decided its
// membership from a configuration it read.
func MembershipChecks(n *Node) uint64 { return n.membership.checks.Load() }

// SnapshotTail returns how many applied entries follow n's newest
// snapshot: what its next Open would replay.
func SnapshotTail(n *Node) uint64 {
	var newest uint64
	if metas, err := n.store.snapshots.List(); err == nil && len(metas) > 0 {
		newest = metas[0].Index
	}
	if applied := n.fsm.applied.Index(); applied > newest {
		return applied - newest
	}
	return 0
}
