// Package durablekv is a reference durable FSM for raftkit: a configuration
// key-value store kept in a bbolt file, which writes the index of the last
// log entry it applied in the same transaction as the data.
//
// Because the data and its index are always durable together, a node
// restarting with a durablekv.Store re-applies nothing it already holds: it
// implements raftsync.DurableFSM, and the node skips both the snapshot
// restore and every log entry up to Store.DurableIndex. Restart time then
// depends on the size of the log tail since the last shutdown, not on the
// length of the history.
//
// Copy it as the start of your own durable FSM. The rules it follows:
//
//  1. Apply a whole batch in one transaction, and put the batch's last index
//     in that transaction (ApplyBatch).
//  2. Snapshot from a read transaction: bbolt's copy is consistent while
//     writes go on (Snapshot, Persist).
//  3. Restore by building the new file beside the old one and renaming it
//     over, with the index raft gives (RestoreAt): a crash leaves the old
//     state or the new, never a mix.
//  4. Refuse a payload that is not one of ours before raft is asked to
//     restore it (ValidateSnapshot).
package durablekv
