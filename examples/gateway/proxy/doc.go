// Package proxy is the gateway's data plane: a reverse proxy that matches
// each request against the node's local copy of the route table and
// forwards it to one of the route's upstreams.
//
// # The table and how it changes
//
// The table is built in full once, when the node first becomes ready
// (Proxy.Sync with the Initial change, or Proxy.Build), never once per
// entry the node replays while it recovers. After that, each change
// notification from raftsync.Node.SubscribeChanges asks the store which
// routes changed since the index the table reflects (store.ChangedSince),
// and swaps those routes alone:
//
//   - a route whose host and path prefix stay the same is swapped in place:
//     its slot's atomic pointer is set to the new compiled route, and no
//     other route, nor the matching index, is touched;
//   - a route added, removed, or moved to another host or prefix gets a new
//     matching index that reuses every other route's slot (copy on write).
//
// A request loads the route once and keeps it for its whole life, so a swap
// never disturbs a request in flight; the listener and its connections are
// never restarted. The counters FullRebuilds and RouteSwaps (see Stats)
// say which kind of update happened, for metrics and tests.
//
// # The read fence
//
// With Options.Fence set (the gateway passes raftsync.Node.Fence), a table
// is served only once the fence has covered its store index: the first
// build, each rebuild and each change alike, before any route is swapped.
// With the node's read fence on, a node that crashes therefore re-opens
// holding at least the state of the last table its proxy served, and the
// proxy, rebuilt from that state, never serves an older table. While the
// fence fails the proxy keeps the table it had and retries at the next
// change.
//
// # Forwarding
//
// Upstreams are chosen by smooth weighted round robin (each route keeps its
// own rotation). A request without a body is retried on the next upstream,
// up to the route's Retries, when the connection to the first could not be
// made (nothing was sent). A GET, HEAD, OPTIONS or TRACE request is also
// retried after a 502, 503 or 504 answer or a connection broken mid-way;
// any other method (POST, PATCH, PUT, DELETE, ...) reached the upstream
// then and is never sent twice: the client gets the upstream's answer. The
// route's timeout bounds the whole exchange, retries included.
// Forwarding itself is net/http/httputil.ReverseProxy, with one shared
// http.Transport so that connection pools outlive route swaps.
package proxy
