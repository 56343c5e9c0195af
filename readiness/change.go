package readiness

// Change tells a subscriber that the log entries in (From, To] have been
// applied since the last Change it received. The subscriber asks its own
// FSM what those entries changed.
type Change struct {
	From, To uint64
	// Initial marks the first Change a subscriber receives: delivered at the
	// node's first Ready (or at Subscribe, after it), with From = 0 and To =
	// the applied index, it stands for "build everything from scratch".
	Initial bool
}

// Subscription receives coalesced Changes, for applications that rebuild
// something (a routing table, a cache) when the replicated state changes.
// raftsync.Node.SubscribeChanges returns one. Nothing is delivered while
// the node recovers and catches up; its first Ready delivers one Initial
// Change covering everything applied; after it, Changes are gathered over
// a short window (raftsync.Config.ChangeWindow) and delivered as one.
type Subscription interface {
	// C returns the channel of Changes. It has a buffer of one; a Change
	// not yet read is merged with the next (From = min, To = max, Initial
	// = either), so a slow reader never loses a range and never blocks
	// the node. The channel is closed by Close or when the node closes.
	C() <-chan Change
	// Close ends the subscription and closes its channel. It is idempotent
	// and does not block.
	Close()
}
