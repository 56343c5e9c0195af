// Command gateway is a clustered API gateway built on raftkit: an admin API
// that changes routing configuration through Raft, and a reverse proxy that
// serves traffic from each node's local copy of it.
//
// Run three nodes on loopback (see README.md, or run-cluster.sh), each with
// FLAGS="-admin-token-file tokens -allow-loopback-upstreams" (the admin API
// needs a bearer token from the file; the demo upstreams are on loopback):
//
//	gateway -id node1 -dir data/node1 -raft-addr 127.0.0.1:7001 -admin-addr 127.0.0.1:8001 -proxy-addr 127.0.0.1:9001 $FLAGS -bootstrap
//	gateway -id node2 -dir data/node2 -raft-addr 127.0.0.1:7002 -admin-addr 127.0.0.1:8002 -proxy-addr 127.0.0.1:9002 $FLAGS -join 127.0.0.1:7001
//	gateway -id node3 -dir data/node3 -raft-addr 127.0.0.1:7003 -admin-addr 127.0.0.1:8003 -proxy-addr 127.0.0.1:9003 $FLAGS -join 127.0.0.1:7001
//
// Without -admin-token-file or -admin-tls with -admin-client-ca, a node
// refuses to start unless -admin-insecure is given on a loopback
// -admin-addr.
//
// Two helper subcommands make the walkthrough self-contained:
//
//	gateway echo -addr 127.0.0.1:9101 -name a   # a test upstream that names itself
//	gateway gencert -dir certs                  # a CA and a certificate per node for -tls-*
//
// How the pieces fit: package store is the replicated state machine,
// package admin the admin API, package proxy the data plane, package route
// the configuration model. main (this package) parses flags, opens the
// raftsync.Node, and starts the admin API at once and the proxy only after
// the node is ready and the route table is built.
package main
