package raftsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// A node logs a failure to reach a peer at WARN at most once per
// PeerWarnPeriod, and only once the peer has been failing for
// PeerWarnGrace: raft logs such a failure at ERROR on every retry (tens a
// second), and a peer that restarts within the grace is routine. The
// messages in between go to DEBUG; each WARN says for how long the peer
// has been failing and how many messages about it were held back since
// the previous WARN. See docs/logging.md.
const (
	PeerWarnGrace  = 5 * time.Second
	PeerWarnPeriod = 10 * time.Second
)

// quietLogger is the hclog.Logger the node gives raft, raft-autopilot,
// the transport and its own parts: Config.Logger, with raft's routine
// messages demoted (routineMessages) and its per-peer failures
// rate-limited (peerFailureMessages). Loggers derived from it (Named,
// With) share its peer state, so the limit holds per node and peer
// whichever part logs.
type quietLogger struct {
	hclog.Logger
	q *quietState
}

// newQuietLogger wraps inner.
func newQuietLogger(inner hclog.Logger) hclog.Logger {
	return &quietLogger{Logger: inner, q: newQuietState(time.Now)}
}

func (l *quietLogger) Log(level hclog.Level, msg string, args ...any) {
	if level >= hclog.Warn {
		level, args = l.q.judge(level, msg, args)
	}
	l.Logger.Log(level, msg, args...)
}

func (l *quietLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *quietLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *quietLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *quietLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *quietLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l *quietLogger) With(args ...any) hclog.Logger {
	return &quietLogger{Logger: l.Logger.With(args...), q: l.q}
}

func (l *quietLogger) Named(name string) hclog.Logger {
	return &quietLogger{Logger: l.Logger.Named(name), q: l.q}
}

func (l *quietLogger) ResetNamed(name string) hclog.Logger {
	return &quietLogger{Logger: l.Logger.ResetNamed(name), q: l.q}
}

// routine is a demotion: a message raft (or raft-autopilot) logs at WARN
// or ERROR in the normal life of a cluster, the level it is logged at
// instead, and, when set, the condition on its arguments under which it
// is routine.
type routine struct {
	to   hclog.Level
	when func(args []any) bool
	why  string
}

// routineMessages maps raft's and raft-autopilot's messages (their exact
// text in raft v1.7.3 and raft-autopilot v0.3.0) to what they are logged
// at. docs/logging.md lists them with the reasons.
var routineMessages = map[string]routine{
	// Elections.
	"heartbeat timeout reached, starting election": {to: hclog.Info,
		why: "a follower that lost its leader starts an election: how raft replaces a leader that stopped"},
	"no known peers, aborting election": {to: hclog.Debug,
		why: "a joining node has no configuration until the leader sends it"},
	"not part of stable configuration, aborting election": {to: hclog.Debug,
		why: "a joining node is not yet in the configuration it holds"},
	"heartbeat timeout reached, not part of a stable configuration or a non-voter, not triggering a leader election": {to: hclog.Debug,
		why: "a non-voter or a joining node does not campaign"},
	"rejecting vote request since we have a leader": {to: hclog.Debug,
		why: "a restarted or partitioned member campaigns while the others still follow the leader"},
	"rejecting pre-vote request since we have a leader": {to: hclog.Debug,
		why: "as above, for pre-vote"},
	"rejecting vote request since our last term is greater": {to: hclog.Debug,
		why: "a member that fell behind campaigns and loses"},
	"rejecting pre-vote request since our last term is greater":  {to: hclog.Debug, why: "as above"},
	"rejecting vote request since our last index is greater":     {to: hclog.Debug, why: "as above"},
	"rejecting pre-vote request since our last index is greater": {to: hclog.Debug, why: "as above"},
	"duplicate requestVote from": {to: hclog.Debug,
		why: "a candidate's retried vote request"},
	"new leader elected, stepping down": {to: hclog.Info,
		why: "a leadership transfer or a new term"},
	// Log matching.
	"failed to get previous log": {to: hclog.Debug, when: errorIs(raft.ErrLogNotFound),
		why: "a fresh joiner, or a follower behind, does not hold the leader's previous entry; the leader backs off"},
	"appendEntries rejected, sending older logs": {to: hclog.Debug,
		why: "the leader's side of the same"},
	"previous log term mis-match": {to: hclog.Info,
		why: "a follower holds entries of a deposed leader's term; raft replaces them"},
	"clearing log suffix": {to: hclog.Info,
		why: "the replacement itself"},
	"failed to get log": {to: hclog.Debug, when: errorIs(raft.ErrLogNotFound),
		why: "the leader looks for an entry compacted into a snapshot and sends the snapshot instead (where raft cannot recover, it panics with the error)"},
	"skipping application of old log": {to: hclog.Debug,
		why: "raft re-delivers entries the node already applied in its local recovery"},
	// Connections that close at shutdown, at a peer's restart, or when raft
	// drops a pooled connection.
	"failed to decode incoming command": {to: hclog.Debug, when: errorIs(closedConnErrors...),
		why: "the connection closed: this node or the peer shut down or restarted"},
	"failed to flush response": {to: hclog.Debug, when: errorIs(closedConnErrors...),
		why: "as above"},
	// raft-autopilot stopping with the leader.
	"Error when computing next state": {to: hclog.Debug, when: errorIs(context.Canceled),
		why: "autopilot stops when this node stops leading or closes"},
}

// closedConnErrors are the errors of a connection that closed under a
// read or write.
var closedConnErrors = []error{net.ErrClosed, io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.EPIPE}

// peerFailureMessages maps raft's messages about a failed exchange with a
// peer to the argument naming the peer. They are rate-limited per peer.
var peerFailureMessages = map[string]string{
	"failed to heartbeat to":                  "peer",   // raft.ServerAddress
	"failed to appendEntries to":              "peer",   // raft.Server
	"failed to pipeline appendEntries":        "peer",   // raft.Server
	"failed to start pipeline replication to": "peer",   // raft.Server
	"failed to send snapshot to":              "peer",   // raft.Server
	"failed to install snapshot":              "peer",   // raft.ServerID (the leader's side; the follower's has no peer)
	"failed to make requestVote RPC":          "target", // raft.Server
	"failed to contact":                       "server-id",
}

// errorIs returns a condition true when the message's "error" argument is
// one of targets.
func errorIs(targets ...error) func([]any) bool {
	return func(args []any) bool {
		err, _ := argValue(args, "error").(error)
		if err == nil {
			return false
		}
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

// argValue returns the value of key in hclog's alternating key/value
// arguments, or nil.
func argValue(args []any, key string) any {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == key {
			return args[i+1]
		}
	}
	return nil
}

// quietState is one node's demotion and rate-limiting state.
type quietState struct {
	now func() time.Time

	mu    sync.Mutex
	peers map[string]*peerFailures // by peer address
	addrs map[raft.ServerID]string // learned from raft.Server arguments
}

// peerFailures is the current run of failures to reach one peer.
type peerFailures struct {
	since      time.Time // first failure of the run
	last       time.Time // latest failure
	lastWarn   time.Time // zero until the run's first WARN
	suppressed int       // messages at DEBUG since the last WARN
}

func newQuietState(now func() time.Time) *quietState {
	return &quietState{now: now, peers: map[string]*peerFailures{}, addrs: map[raft.ServerID]string{}}
}

// judge returns the level to log msg at, and its arguments.
func (q *quietState) judge(level hclog.Level, msg string, args []any) (hclog.Level, []any) {
	if r, ok := routineMessages[msg]; ok && (r.when == nil || r.when(args)) {
		return min(level, r.to), args
	}
	if key, ok := peerFailureMessages[msg]; ok {
		return q.peerFailure(level, key, args)
	}
	return level, args
}

// peerFailure decides a per-peer failure message: DEBUG during the grace
// and between WARNs, else WARN with the run's length and the number held
// back. A gap of PeerWarnPeriod without failures ends a run.
func (q *quietState) peerFailure(level hclog.Level, key string, args []any) (hclog.Level, []any) {
	now := q.now()
	q.mu.Lock()
	defer q.mu.Unlock()
	addr, id := q.peerOf(argValue(args, key))
	if addr == "" {
		return hclog.Debug, args // a peer known only by ID: its address's messages speak for it
	}
	p := q.peers[addr]
	if p == nil || now.Sub(p.last) > PeerWarnPeriod {
		p = &peerFailures{since: now}
		q.peers[addr] = p
	}
	p.last = now
	if now.Sub(p.since) < PeerWarnGrace || (!p.lastWarn.IsZero() && now.Sub(p.lastWarn) < PeerWarnPeriod) {
		p.suppressed++
		return hclog.Debug, args
	}
	out := make([]any, 0, len(args)+8)
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == key {
			continue
		}
		out = append(out, args[i], args[i+1])
	}
	out = append(out, "peer", addr)
	if id != "" {
		out = append(out, "peer_id", id)
	}
	out = append(out, "failing_for", now.Sub(p.since).Round(time.Millisecond), "suppressed", p.suppressed)
	p.lastWarn, p.suppressed = now, 0
	return min(level, hclog.Warn), out
}

// peerOf returns the address (and the ID, when known) of a peer argument
// (raft.Server, raft.ServerAddress or raft.ServerID), learning the
// address of each ID it sees. q.mu is held.
func (q *quietState) peerOf(v any) (addr string, id raft.ServerID) {
	switch p := v.(type) {
	case raft.Server:
		if p.ID != "" && p.Address != "" {
			q.addrs[p.ID] = string(p.Address)
		}
		return string(p.Address), p.ID
	case raft.ServerAddress:
		addr = string(p)
		for i, a := range q.addrs {
			if a == addr {
				return addr, i
			}
		}
		return addr, ""
	case raft.ServerID:
		return q.addrs[p], p
	case string:
		return p, ""
	case nil:
		return "", ""
	default:
		return fmt.Sprint(p), ""
	}
}
