// Package appliedrecord keeps a node's persisted applied index: the
// durable Record of the highest log index its FSM had finished applying, in
// a File replaced atomically and fsynced, and the Throttle that decides when
// the next Record is due under a readiness.PersistPolicy.
//
// A Record carries a checksum and the node and cluster identity, so a torn
// or foreign record is detected and never trusted: Load refuses anything
// that is not one whole record (ErrNoRecord, ErrCorruptRecord) and
// Record.Check refuses another node's or cluster's (ErrForeignRecord). The
// caller treats the persisted index as 0 in every such case. Entries up to
// it are known
// committed, so a restarting node re-applies them from its own snapshot and
// log without waiting for a leader (see docs/readiness.md).
//
// The caller (raftsync) asks Throttle.Due as the applied index advances and
// on its ticker, Stores a Record when it is due, then reports it with
// Throttle.Persisted; it Stores once more at Close. Nothing here starts a
// goroutine.
package appliedrecord
