// Package promexport publishes raftkit nodes' metrics to Prometheus,
// with hashicorp/raft's own metrics beside them. One line exposes a node:
//
//	http.Handle("/metrics", promexport.Handler(node))
//
// or, into a registry the program already has:
//
//	if err := promexport.Register(reg, node); err != nil { ... }
//
// It lives apart from raftsync so that a program that does not use
// Prometheus does not link its client library. The collector reads
// raftsync.Node.Metrics at each scrape, which never blocks.
//
// # Families
//
// Every series carries the labels node_id (the node's ID) and cluster_id
// (the cluster's ID, read at each scrape). The families, with their type
// and further labels (docs/metrics.md has their label values):
//
//   - raftkit_readiness_state (gauge; state): 1 for the node's current readiness state, 0 for every other state.
//   - raftkit_readiness_transitions_total (counter; state): Times the node entered each readiness state since it opened.
//   - raftkit_time_to_ready_seconds (gauge): Seconds from Open to the node's first Ready; 0 until then.
//   - raftkit_is_leader (gauge): 1 while raft's role on this node is Leader.
//   - raftkit_term (gauge): Raft's current term on this node.
//   - raftkit_applied_index (gauge): The highest log index the application's FSM has finished applying.
//   - raftkit_persisted_index (gauge): The durably recorded applied index the node recovers to after a restart.
//   - raftkit_commit_index (gauge): The highest log index this node knows committed.
//   - raftkit_last_index (gauge): The last index in this node's log.
//   - raftkit_apply_lag_entries (gauge): Commit index minus applied index: entries committed but not yet applied here.
//   - raftkit_persist_lag_entries (gauge): Applied index minus persisted index: entries a crash now would re-apply from the log.
//   - raftkit_last_contact_seconds (gauge): Seconds since this follower last heard from the leader; 0 on the leader and before any contact.
//   - raftkit_reads_total (counter; level): ReadIndex calls (Read included) by consistency level.
//   - raftkit_read_errors_total (counter; level): ReadIndex calls that returned an error, by consistency level.
//   - raftkit_read_lease_total (counter; level, result): Reads on the leader served from a valid lease (hit) or needing a quorum round (miss), by level.
//   - raftkit_read_rounds_total (counter; result): Quorum rounds the leader ran to confirm its leadership for reads (one serves a batch), by result; vouched: a follower's Strong read answered without one.
//   - raftkit_read_forwarded_total (counter; level, result): Read index requests this follower sent to the leader (one serves a batch), by level and result.
//   - raftkit_writes_forwarded_total (counter; outcome): Apply calls this node forwarded to the leader, by outcome (applied, fsm_error, not_sent, refused, indeterminate).
//   - raftkit_snapshot_persist_duration_seconds (summary): Seconds taken by snapshots written to the local snapshot store (count and sum of those that succeeded).
//   - raftkit_snapshot_persist_size_bytes (summary): Bytes of snapshots written to the local snapshot store (count and sum of those that succeeded).
//   - raftkit_snapshot_persist_failures_total (counter): Failed snapshots written to the local snapshot store.
//   - raftkit_snapshot_restore_duration_seconds (summary): Seconds taken by snapshots restored into the application (sent by the leader, or a restored backup) (count and sum of those that succeeded).
//   - raftkit_snapshot_restore_size_bytes (summary): Bytes of snapshots restored into the application (sent by the leader, or a restored backup) (count and sum of those that succeeded).
//   - raftkit_snapshot_restore_failures_total (counter): Failed snapshots restored into the application (sent by the leader, or a restored backup).
//   - raftkit_backup_duration_seconds (summary): Seconds taken by backups written by Node.Backup (count and sum of those that succeeded).
//   - raftkit_backup_size_bytes (summary): Bytes of backups written by Node.Backup (count and sum of those that succeeded).
//   - raftkit_backup_failures_total (counter): Failed backups written by Node.Backup.
//   - raftkit_backup_restore_duration_seconds (summary): Seconds taken by backups restored by Node.Restore on the leader (count and sum of those that succeeded).
//   - raftkit_backup_restore_size_bytes (summary): Bytes of backups restored by Node.Restore on the leader (count and sum of those that succeeded).
//   - raftkit_backup_restore_failures_total (counter): Failed backups restored by Node.Restore on the leader.
//   - raftkit_connections_rejected_total (counter; reason): Incoming connections the node's listener closed before raft or the RPC server saw them, by reason.
//   - raftkit_autopilot_healthy (gauge): On the leader: 1 when every member passed autopilot's last health check. Absent elsewhere and before the first check.
//   - raftkit_autopilot_failure_tolerance (gauge): On the leader: how many voters can fail now with a quorum of healthy voters left. Absent elsewhere and before the first check.
//   - raftkit_autopilot_dead_servers_removed_total (counter): Dead members autopilot removed from the configuration while this node led.
//   - raftkit_raft_bridge_info (gauge): Always 1: raft's own metrics (raftkit_raft_*) in this registry are labelled with this node; raft reports them process-wide.
//
// A summary has no quantiles: its _count and _sum cover the operations
// that succeeded, and failures have their own counter.
//
// # Raft's own metrics
//
// raft reports through go-metrics. Register and Handler install a RaftSink
// as the global go-metrics sink (InstallRaftSink, once per process), and
// publish each key raft reports as "raftkit_" + the key with dots turned
// into underscores: raft.apply becomes raftkit_raft_apply (a counter),
// raft.commitTime raftkit_raft_commitTime (a summary in milliseconds, as
// raft measures it). These are process-wide: they carry the labels of the
// first node registered in the registry. WithRaftSink and
// WithoutRaftMetrics leave the global sink to the program.
package promexport
