// Package rpc carries raftkit's node-to-node requests (forwarded Apply,
// join, remove, status, read index, leadership confirmation) over Mux
// connections of kind mux.KindRPC, many concurrent requests per connection.
//
// # Protocol
//
// Both directions are streams of wire frames. The client gives every
// request on a connection a distinct non-zero ID; the server answers each
// request with one frame carrying the same ID, in whatever order the
// handlers finish. ID 0 is reserved: a server that is about to close a
// connection because of a bad frame first sends a TypeError frame with ID 0
// whose Status says why, so the client can report the reason. A server
// that closes ([Server.Close]) stops reading, lets the handlers of what it
// read answer, and then sends an ID-0 frame with CodeClosed: the going-away
// notice, which says that it read none of the requests it left unanswered.
//
// # Outcomes
//
// Every error from [Client.Call] wraps exactly one of two sentinels, and
// the difference matters to a caller deciding whether to retry:
//
//   - [ErrNotSent]: the request certainly did not reach the server's
//     handler (no connection, a failed write, ctx ending before the write,
//     a request over the size limit, a closed client, a request left
//     unanswered by the server's going-away notice). Retrying cannot
//     apply it twice.
//   - [ErrNoResponse]: the request was written and its answer did not
//     arrive (the connection died, ctx ended, the client closed). The
//     handler may or may not have run.
//
// [ErrClosed] is wrapped in addition when the client was closed. A call
// that ends because its ctx ended also wraps ctx.Err(). Each [Reply] of a
// [Client.Multicall] carries the error its call would have had as a Call.
//
// # Many servers at once
//
// [Client.Multicall] sends one request to several servers and yields the
// replies as they arrive, for a caller that needs only some of them (a
// quorum round). It writes from the calling goroutine where a write
// cannot block, and falls back to a Call in a goroutine of its own for a
// server that is not dialed yet, busy, or slow to answer. With
// [MulticallOptions].First it asks the servers that answered fastest
// lately first, and the others only when those fail or are slow. With
// [MulticallOptions].Direct a lone call goes over a connection dedicated
// to one request at a time (one per address, dialed in the background
// and reused), whose answer Next reads itself instead of receiving it
// from a connection's reader goroutine. Once its ctx ends it yields
// nothing more; Close abandons the calls still out.
//
// # Limits
//
// A [Server] bounds the connections it serves (MaxConns: beyond it, it
// stops accepting, and the Mux refuses the waiting connections after its
// handshake timeout, so their Dial fails cleanly), the requests in flight
// on one connection (MaxInFlightPerConn: beyond it, it stops reading that
// connection), the bytes those requests hold, per connection and over the
// whole server (MaxInFlightBytesPerConn, MaxInFlightBytes: a request's
// header is read first, and its body only once its bytes fit both
// budgets, so a peer that sends many large requests and never reads the
// answers holds at most its connection's budget), and the size of frames
// in both directions (MaxBody). A malformed or oversized frame closes
// that connection only.
package rpc
