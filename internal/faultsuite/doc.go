// Package faultsuite breaks raftkit clusters on purpose and checks that
// nothing they acknowledged is lost, in the manner of Jepsen and etcd's
// robustness tests, inside one test process.
//
// A Schedule, generated from a seed alone (Generate), says how the cluster
// is shaped (voters, a non-voter, read fence, persistence and snapshot
// settings) and which faults hit it when: partitions, one-way blocks and
// stalls, latency, connection resets, paused members (internal/faultnet),
// crashes and clean restarts from the same Dir, leadership transfers
// (internal/testcluster), and disk faults on the raft stores — failing,
// slow, partial writes, refused votes (Disk, through raftsync.Config.WrapStores).
// Run plays a schedule against a real cluster on loopback TCP with bolt
// files, while clients on every member write, read at every level and check
// read-your-writes with WaitIndex; once the faults end it waits for the
// cluster to recover and then checks:
//
//  1. the Strong and Lease reads and the writes are linearizable
//     (porcupine, a register per key; a write with an unknown outcome may
//     take effect at any time after its call);
//  2. every acknowledged write is at its index on every member, no write
//     that failed with a definite error was applied, and no write was
//     applied twice;
//  3. no member served a Stale read older than one it served before,
//     across clean restarts always and across crashes with the read fence;
//  4. all FSMs converge to the same state and history;
//  5. no member reported Ready with its applied index below its sync point.
//
// A run that finds a violation reports it with the seed and the command
// that replays it (ReplayCommand). The package's tests run a short fixed
// set of seeds; cmd/campaign runs a long campaign of fresh seeds. See
// docs/ROBUSTNESS.md for what the suite models, what it does not, and what
// it has found.
//
// The package is imported only by tests and the campaign command.
package faultsuite
