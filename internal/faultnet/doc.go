// Package faultnet is a fault-injecting network for in-process test
// clusters. Every member dials its peers through a Network (raftsync
// Config.DialContext, testcluster Options.Network), which knows who dials
// whom and carries each connection's bytes through a small in-process relay
// that can refuse, hold, delay, truncate and close them.
//
// # Fault models
//
// A member's connections are TCP streams, and the faults offered are the
// ones a TCP stream can suffer. Bytes on one connection are never reordered,
// duplicated or corrupted: TCP's sequence numbers and checksums rule that out
// in a real network too, so a fault layer that did so would test a network
// that does not exist. What a real network does to a stream is:
//
//   - Cut(a, b): a partition between two members, both ways. Dials between
//     them are refused and their open connections are closed.
//   - Block(from, to): a one-way firewall rule. from can no longer open
//     connections to to, and the connections from had opened to to are
//     closed; connections opened by to keep working in both directions, as
//     a stateful firewall lets replies through.
//   - Stall(from, to): one-way loss. Bytes flowing from from to to, on every
//     connection between them, are held (TCP would keep retransmitting
//     them) until Unstall, then delivered in order. Bytes the other way
//     still flow. Senders block once the relay's buffer is full, as they
//     would on a full socket buffer.
//   - SetDelay(from, to, d, jitter): latency. Each chunk from from to to is
//     delivered no earlier than d plus a random share of jitter after it was
//     written. Order within a connection is kept; chunks on different
//     connections overtake each other, which is the only reordering a TCP
//     network produces.
//   - SetResetRate(from, to, p) and Reset(a, b): a connection that dies.
//     With probability p per chunk, a connection delivers only a prefix of
//     the chunk (possibly cutting a frame in half) and is then closed;
//     Reset closes every connection between a and b at once. The peers see
//     a truncated stream followed by end of file, never bytes after a gap.
//   - Pause(m) and Resume(m): a stopped process, as far as the network can
//     tell. Every byte to and from m is held, on every connection, new ones
//     included, until Resume, and then delivered in order, so m's peers
//     receive m's old messages late and m receives theirs. Unlike SIGSTOP,
//     m's own goroutines and timers keep running; see docs/ROBUSTNESS.md.
//
// Duplication is not offered: a TCP stream cannot duplicate bytes, and a
// message sent twice is a decision of the sender (a retry), which the
// fault suite provokes with resets and timeouts instead.
//
// # Randomness
//
// The jitter and the reset draws come from a generator seeded by NewSeeded,
// so a seed fixes the sequence of draws. The moment each draw is made
// depends on goroutine scheduling, so a seed does not fix which chunk gets
// which draw.
//
// Every connection costs four goroutines while it is open. Close the Network
// when done: it closes every connection and waits for them.
package faultnet
