// Command bench measures raftkit side by side with the two things an
// application would otherwise use: hashicorp/raft wired by hand ("bare
// raft": the same stores, transport, FSM and raft.Config, none of
// raftkit), and an embedded etcd (run as a subprocess from the nested
// module internal/bench/etcdpeer, so that raftkit's go.mod never depends
// on etcd). Every system runs three members over loopback TCP with real
// on-disk stores under a temporary directory, on the same machine, in the
// same run; every write and read cell runs on each system back to back, so
// that the systems of a row see the same state of a shared machine.
//
// # Usage
//
//	go run ./internal/cmd/bench -quick          # CI smoke: about a minute with a warm build cache
//	go run ./internal/cmd/bench                 # the full run: 3 repetitions, under 10 minutes
//	go run ./internal/cmd/bench -scenarios restart -restart-entries 1000000   # the long restart run
//	go run ./internal/cmd/bench -scenarios sweep -writers 1,64,256            # the tuning sweep
//
// Run it from the repository (it builds the etcd peer with go build), or
// pass -etcdpeer with a prebuilt peer binary. -systems, -scenarios,
// -writers, -readers, -reps, -duration, -restart-entries and -join-mb
// narrow a run; -cpuprofile profiles it; -keep keeps the data directory,
// which also holds raft's log (raft.log) and etcd's (etcd.log).
//
// # Scenarios
//
//   - disk: fdatasync latency of the data directory's disk and bolt
//     StoreLogs latency per batch size, with the write rate they allow
//     (b / (2 × StoreLogs latency): a hashicorp/raft commit waits for the
//     leader's log write and then a follower's).
//   - writes: Apply throughput and p50/p99 latency with 1, 16, 64 and 256
//     concurrent writers of 100-byte commands, through the leader and
//     through a follower (bare raft has no forwarding).
//   - reads: Strong (bare raft: VerifyLeader per read; etcd: linearizable
//     Get), Lease and Stale (etcd: serializable Get for both), with 1 and 64
//     readers, on the leader and on a follower.
//   - restart: a log of N entries; time until the whole cluster, or one
//     follower, can serve again (raftkit: WaitReady; bare raft: a leader
//     known and the FSM at the pre-shutdown index); and a lone node with its
//     peers down (raftkit: time to Recovered; both: share of the
//     pre-shutdown state applied). In-memory and durable (bbolt) FSM.
//   - join: time for a fourth member to serve with 1, 10 and 100 MB of
//     state.
//   - gateway: the example gateway's data plane (three gateway processes
//     built from examples/gateway, two echo upstreams, all on loopback):
//     one continuous proxied load through the two followers' proxies, in
//     alternating windows of no change ("steady") and of 100 route
//     changes per second through the admin APIs ("churn"), then across a
//     SIGKILL of the leader ("failover"). Per phase: requests/s, p50/p99,
//     failed requests, the gateway processes' CPU, and the p99 of a small
//     control load sent straight to an upstream; and the proxies' full
//     table builds and per-route swaps, from their /status. Before the
//     load starts, a window of churn alone gives the CPU one route change
//     costs the gateway processes, and the bench's churn driver.
//   - sweep: leader writes under the write-path knobs (MaxAppendEntries,
//     BatchApplyCh, applied-index persistence on raftkit; LogCache size and
//     bolt's NoFreelistSync on bare raft; the raft-wal log store, "wal", on
//     both).
//
// -rec key=value,... adds raftkit-rec and bareraft-rec beside the defaults
// in the write and read cells, with the same keys the sweep varies:
// maxappend, batch, logcache, nofreelistsync, persist-entries,
// persist-interval, and wal=true for the raft-wal log store (bolt kept as
// the stable store, for both systems).
//
// # Output
//
// Progress goes to stderr. stdout gets one table per scenario (median and
// [min–max] over the repetitions), the targets with met or MISSED,
// then one line per figure and one per comparison:
//
//	BENCH <scenario> <system> <median> <unit>
//	RATIO <scenario>:<library>/<peer> <value>
//
// A RATIO is library/peer for rates and peer/library for times, so that
// above 1 always means the library is better. A target that compares two
// cells of one repetition (raftkit and bare raft, follower and leader) is
// the median of the per-repetition ratios, shown with their range: those
// cells run back to back. The command exits non-zero when any cell failed
// (an operation returned an error, or a cluster did not start); missed
// targets are reported, not failures.
package main
