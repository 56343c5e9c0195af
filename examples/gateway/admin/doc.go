// Package admin is the gateway's admin API: JSON over HTTP, for changing
// routes and upstream groups through Raft and reading them back at a
// chosen consistency level, plus the node's health and status.
//
// # Endpoints
//
//	PUT    /v1/routes/{id}    create or replace a route        200 {"index": N}
//	POST   /v1/routes         create a route, "id" in the body  201 {"index": N, "id": ID}; 409 if it exists
//	GET    /v1/routes/{id}    one route                         200 route; 404 when absent
//	GET    /v1/routes         every route                       200 {"routes": [...]}
//	DELETE /v1/routes/{id}    delete a route                    200 {"index": N}; 404 when absent
//	PUT    /v1/groups/{id}    create or replace an upstream group
//	GET    /v1/groups/{id}, GET /v1/groups, DELETE /v1/groups/{id} (409 while a route uses it)
//	DELETE /v1/members/{id}   remove a dead member from the cluster
//	GET    /v1/proxy          the data plane's counters; ?wait_index=N waits until it serves index N
//	GET    /status            node, readiness, membership, store and data plane
//	GET    /readyz, /livez    probes (raftsync.Node.ReadyHandler and LiveHandler)
//	GET    /metrics           Prometheus text format
//
// Every response carries X-Raft-Index: the log index a write was committed
// at, the index a read was served at, or otherwise the node's applied
// index. Reads take ?consistency=strong|lease|stale (default strong) and
// ?wait_index=N, which first waits until this node has applied index N, so
// that a client that wrote on one node reads its write on any other (pass
// the X-Raft-Index of the write). Reads also answer X-Raft-Consistency,
// X-Raft-Known-Leader and X-Raft-Last-Contact (milliseconds since the node
// heard from the leader), in the manner of Consul. Every request takes
// ?timeout=DURATION (default 10s, at most 1m) bounding its wait for Raft.
//
// Writes work on every node: a follower forwards them to the leader
// (raftsync.Node.Apply), so clients never look for the leader.
//
// # Errors
//
// Every error is JSON {"error": "...", "field": "..."} ("field" names the
// offending field of the body when there is one). Bad input changes
// nothing: 400 for malformed JSON, unknown fields or query parameters, and
// invalid values; 413 for a body over 64 KiB; 405 for a wrong method; 409
// for a conflict with the current state (an existing ID on create, a host
// and path prefix another route serves, a group still in use). Refusals
// that depend on the state are decided by the state machine when it
// applies the command, so they hold under concurrent writers; such a
// command occupies a log index but changes nothing. 503 means the node
// cannot serve now (no leader, not ready, too stale), 504 that the wait
// ran out; for a write, 504 means its outcome is unknown: read to find out.
package admin
