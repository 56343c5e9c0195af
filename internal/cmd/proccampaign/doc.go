// Command proccampaign is a process-level fault campaign against
// examples/gateway: three real gateway processes on loopback, killed with
// SIGKILL and paused with SIGSTOP (the leader included, paused past an
// election) while HTTP clients write routes and read them back at the
// Strong, Lease and Stale levels; afterwards the HTTP history is checked
// with porcupine. It is the real-process complement of internal/faultsuite,
// whose faults are simulated inside one test process. It is not part of
// the CI set: run it by hand.
//
// # Usage
//
// From the root of the raftkit checkout:
//
//	go run ./internal/cmd/proccampaign                      # 20 minutes, a seed from the clock
//	go run ./internal/cmd/proccampaign -duration 1m -seed 7 # a short run
//	go run ./internal/cmd/proccampaign -out /tmp/pc
//
// It builds the gateway once (go build; -race builds it with the race
// detector; -gateway uses a prebuilt binary), starts node1 (-bootstrap),
// then node2 and node3 (-join node1) on free loopback ports below the
// ephemeral range, each with its own directory under -out, and waits for
// each one's /readyz. The gateways' admin API requires a token: the
// first write token of -token-file, or a fresh one written to -out, is
// passed as -admin-token-file and sent as "Authorization: Bearer <token>"
// on every request. Routes point at a loopback address nothing listens
// on (-allow-loopback-upstreams): the campaign checks the route table,
// not proxying. A one-line
// progress summary is printed every minute.
//
// # Faults
//
// A seeded loop: a calm of 1–4 s with every node up, then one round, then a
// wait (at most 60 s) until every node answers /readyz 200 again. A round
// is one of: kill -9 of a random node or of the leader, restarted from the
// same directory after 100–600 ms (inside raftsync's restart vote fence,
// 40%) or 0.6–4 s; SIGSTOP of a random node or of the leader for 2.5–6
// election timeouts (past an election, 75%) or 0.2–1, then SIGCONT; or two
// of these overlapping on two different nodes (never all three). Signals go
// to the process group of each gateway; the gateways are started with
// Pdeathsig, so none outlives the campaign, and Ctrl-C stops the run and
// kills every process.
//
// # Workload and outcomes
//
// -clients per node send, back to back, PUT /v1/routes/{key} with a unique
// value (40%) and GET /v1/routes/{key} at consistency strong (25%), lease
// (25%) and stale (10%), over -keys key slots that move to fresh keys every
// -key-life (so that each key's history stays small enough for porcupine).
// Each operation is recorded with its call and return times and its
// outcome. A write is acknowledged on 200; certainly not applied when the
// connection could not be made, on 4xx, and on 503 (the admin API's "cannot
// serve now": no leader, not ready); of unknown outcome on 504, any other
// status, and any transport error after the request may have been sent (a
// timeout, a reset, the process killed or paused mid-request). An
// unknown-outcome write enters porcupine with an infinite return time: it
// may have taken effect at any moment after its call, or never.
//
// # Checks
//
// When -duration has passed, the clients finish their operation under way,
// every node is resumed or restarted and must be ready within 60 s, a
// barrier write must reach every node with identical routes (converged),
// and every key is read at Strong on every node (these reads join the
// history). Then:
//
//   - linearizability: porcupine checks each key's writes and Strong and
//     Lease reads (within -check-timeout in all); an illegal key gets an
//     HTML visualization in -out;
//   - fence: no read of any level on a node saw an older version of a key
//     (a lower modified_index) than a read on the same node that had
//     returned before it was called, across the node's restarts;
//   - writes: every acknowledged write is reflected in the final state of
//     every node (the key's modified_index is at least the write's index);
//     no write answered as failed is a node's final value;
//   - every read was answered at the level it asked for;
//   - the node logs hold no data race, panic or fatal error.
//
// -out receives summary.json (parameters, every fault with its recovery
// time, operation counts, each check's counts and examples, the verdict),
// history.jsonl.gz (every operation), the visualizations, the gateway
// binary, and the nodes' directories and logs. The exit status is 0 when
// every check passed, 1 on any violation or when the run could not be
// checked (a node that never recovered, no convergence, porcupine
// undecided, nothing acknowledged), 2 on a bad command line and 130 when
// interrupted.
package main
