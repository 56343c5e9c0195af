// Command etcdpeer runs a three-member embedded etcd cluster
// (go.etcd.io/etcd/server/v3/embed) in one process and drives load against
// it on request, so that raftkit's benchmark command (internal/cmd/bench)
// can compare the library with etcd without the library's module ever
// depending on etcd. It is its own Go module for that reason.
//
// # Protocol
//
// etcdpeer reads one JSON request per line on stdin and writes one JSON
// response per line on stdout; logs go to stderr. A request names an op:
//
//	{"op":"start","dir":"/tmp/x"}                 start a new 3-member cluster under dir
//	{"op":"writes","conc":16,"on":"leader","size":100,"warmup_ms":300,"duration_ms":2000}
//	{"op":"reads","mode":"linearizable","conc":64,"on":"follower","warmup_ms":300,"duration_ms":2000}
//	{"op":"join","bytes":10485760,"value_size":10240}
//	{"op":"stop"}                                  close the cluster (the process keeps running)
//
// "on" is "leader" or "follower": the member whose in-process client
// (v3client, no socket between client and server, as an embedding
// application would use it) runs the load. "mode" is "linearizable" or
// "serializable". join writes bytes of state in values of value_size bytes,
// adds a fourth member and reports the time from starting it until it is
// ready and has applied everything committed before it started.
//
// Every response is {"ok":true,"result":{...}} or {"ok":false,"error":"..."};
// a result carries ops, elapsed_ns, p50_ns, p99_ns and errors (see Result).
// The process exits when stdin closes, closing any running cluster first.
package main
