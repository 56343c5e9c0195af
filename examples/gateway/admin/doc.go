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
// # Authentication
//
// Every endpoint except /readyz and /livez needs credentials (see Auth):
// a bearer token from the gateway's token file ("Authorization: Bearer
// TOKEN"), a client certificate verified by the admin listener's CA, or
// both when both are configured. A GET needs a token of any role; every
// other method a write token. No or bad credentials: 401 with
// WWW-Authenticate: Bearer (error="invalid_token" for a token that is not
// in the file); a read-only token asking to write: 403. Both carry a JSON
// error, reach no handler, and write nothing. Tokens are compared in
// constant time and never logged. Every response carries
// X-Content-Type-Options: nosniff, Cache-Control: no-store,
// X-Frame-Options: DENY, Referrer-Policy: no-referrer and
// Content-Security-Policy: default-src 'none'; frame-ancestors 'none'.
//
// Upstream URLs in routes and groups are checked against an address
// policy (route.UpstreamPolicy) before the write reaches Raft: loopback,
// link-local (169.254.169.254), unspecified, multicast and private
// addresses, and the node's own listeners, are refused with 400 naming
// the field ("upstreams[0].url") unless the policy allows them.
//
// Writes work on every node: a follower forwards them to the leader
// (raftsync.Node.Apply), so clients never look for the leader.
//
// # Errors
//
// Every error is JSON {"error": "...", "field": "..."} ("field" names the
// offending field of the body when there is one). Bad input changes
// nothing: 401 and 403 as above, 400 for malformed JSON, a forbidden
// upstream address, unknown fields or query parameters, and
// invalid values; 413 for a body over 64 KiB; 405 for a wrong method; 409
// for a conflict with the current state (an existing ID on create, a host
// and path prefix another route serves, a group still in use). Refusals
// that depend on the state are decided by the state machine when it
// applies the command, so they hold under concurrent writers; such a
// command occupies a log index but changes nothing. 503 means the node
// cannot serve now (no leader, not ready, too stale), 504 that the wait
// ran out; for a write, 504 means its outcome is unknown: read to find out.
package admin
