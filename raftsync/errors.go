package raftsync

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error a Node returns that callers may want to act
// on wraps one of these; test with errors.Is, never by comparing strings.
var (
	// ErrClosed is returned by every call on a Node after Close or Leave,
	// and by calls that were waiting when the Node closed. It always means
	// this Node, the one called, is closed: another node that is closing
	// (a leader shutting down) is a reason to wait for the next leader,
	// reported as ErrNoLeader when ctx ends first.
	ErrClosed = errors.New("raftsync: node closed")

	// ErrNotReady is returned when the node has not yet recovered its local
	// state (a Stale read before Recovered), or by WaitReady when the wait
	// ends without the node becoming ready.
	ErrNotReady = errors.New("raftsync: node not ready")

	// ErrNoLeader is returned when an operation needs the leader and none
	// answered before the caller's context ended: none was known, or the
	// one known was unreachable, closing or still starting, and no new one
	// took over in time. Nothing was done; the error also wraps ctx's
	// error. Calls that need the leader wait for one within ctx, so this
	// is the error a caller sees when the leader goes away and the cluster
	// does not elect another in time.
	ErrNoLeader = errors.New("raftsync: no known leader")

	// ErrNotLeader is wrapped by *NotLeaderError when a call that only the
	// leader can serve reached a node that is not the leader.
	ErrNotLeader = errors.New("raftsync: not the leader")

	// ErrIndeterminate is returned when a write may or may not have been
	// committed: the node lost leadership after appending it, the forwarded
	// request was sent but no answer came back, or the caller's context
	// ended while the write was under way. The write was never retried by
	// the library; read the state to find out whether it took effect.
	ErrIndeterminate = errors.New("raftsync: outcome of write unknown")

	// ErrTooLarge is returned when a command exceeds Config.MaxCommandSize.
	// Nothing is applied.
	ErrTooLarge = errors.New("raftsync: command too large")

	// ErrCommittedNoResponse is returned by a forwarded Apply when the
	// leader committed and applied the command but could not send back the
	// FSM's response (its encoding exceeds the RPC body limit, or encoding
	// it failed or panicked). The write took effect: ApplyResult.Index is
	// its index, usable with WaitIndex; only the Response is missing. Do
	// not retry the command.
	ErrCommittedNoResponse = errors.New("raftsync: write committed, but its response could not be returned")

	// ErrInvalidConfig is wrapped by *ConfigError for every invalid Config.
	ErrInvalidConfig = errors.New("raftsync: invalid config")

	// ErrDirLocked is returned by Open when another live node holds Dir.
	ErrDirLocked = errors.New("raftsync: data directory in use by another node")

	// ErrClusterMismatch is returned when a node's stored cluster identity
	// differs from Config.ClusterID or from the cluster it tries to join.
	ErrClusterMismatch = errors.New("raftsync: cluster identity mismatch")

	// ErrTimeout is returned when a bounded internal wait (an enqueue in
	// raft, a forwarded request) runs out before the caller's context does.
	ErrTimeout = errors.New("raftsync: timed out")

	// ErrRemoved is returned by WaitReady when the node has seen a cluster
	// configuration without itself after it had been a member: it was
	// removed (RemoveServer) and will not become ready unless it is added
	// back. Its readiness state is then readiness.Removed.
	ErrRemoved = errors.New("raftsync: node removed from the cluster")

	// ErrLastVoter is returned by Leave and RemoveServer when the removal
	// would leave the cluster without a voter: raft refuses such a change.
	// Nothing was changed and the node stays open. (To stop a one-node
	// cluster, Close it.)
	ErrLastVoter = errors.New("raftsync: cannot remove the last voter")

	// ErrPermissionDenied is returned when a peer refuses a request because
	// this node's certificate does not allow it (see Config.Authorize): a
	// join under an ID the certificate does not name, a forwarded write or
	// removal from a node that is not a member. Nothing was changed.
	ErrPermissionDenied = errors.New("raftsync: permission denied")
)

// ConfigError reports an invalid Config field. It unwraps to
// ErrInvalidConfig and, when the field was refused because of an error
// from the system (Addr already in use, Dir not writable), to that error
// too: errors.Is(err, syscall.EADDRINUSE) or errors.Is(err,
// fs.ErrPermission) then work.
type ConfigError struct {
	Field  string // the Config field, e.g. "Dir" or "Snapshot.Retain"
	Reason string
	// Err is the underlying error, or nil when the value itself is wrong.
	Err error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("raftsync: invalid config: %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrInvalidConfig, and Err when it is set.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.Err}
}

// NotLeaderError is returned by calls only the leader serves. It carries the
// leader the node knows of, if any, and unwraps to ErrNotLeader.
type NotLeaderError struct {
	LeaderID   string // empty when no leader is known
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return "raftsync: not the leader, and no leader known"
	}
	return fmt.Sprintf("raftsync: not the leader; leader is %s at %s", e.LeaderID, e.LeaderAddr)
}

// Unwrap returns ErrNotLeader.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// ApplyError is returned by Apply when the application's FSM returned an
// error for the command, on every node alike: whether the FSM ran on the
// calling node (the leader) or the call was forwarded, the caller gets an
// *ApplyError with the error's text. The command is committed at Index
// (the ApplyResult carries it too); only the FSM refused it.
//
// An ApplyError unwraps to the sentinel registered in Config.ApplyErrors
// that the FSM's error matched (errors.Is), so errors.Is(err,
// ErrMySentinel) holds on every node; to nothing when none matched. The
// FSM's own error value is not returned, not even on the leader: code
// that works on one node then works on every node.
type ApplyError struct {
	Index   uint64 // the log index of the command
	Message string // the FSM error's text
	// Err is the registered sentinel the error matched, or nil.
	Err error
}

func (e *ApplyError) Error() string { return e.Message }

// Unwrap returns the registered sentinel the FSM's error matched, or nil.
func (e *ApplyError) Unwrap() error { return e.Err }

// wrapped is an error with a text of its own that unwraps to several
// errors, so that one message can name several sentinels ("outcome of
// write unknown" and "node closed") without repeating the package prefix.
type wrapped struct {
	msg  string
	errs []error
}

func (e *wrapped) Error() string   { return e.msg }
func (e *wrapped) Unwrap() []error { return e.errs }

// wrapf returns an error whose text is "raftsync: " followed by the
// formatted text, and which unwraps to errs. Arguments that are errors are
// printed through detail.
func wrapf(errs []error, format string, args ...any) error {
	for i, a := range args {
		if err, ok := a.(error); ok {
			args[i] = detail(err)
		}
	}
	kept := errs[:0:0]
	for _, e := range errs {
		if e != nil {
			kept = append(kept, e)
		}
	}
	return &wrapped{msg: "raftsync: " + fmt.Sprintf(format, args...), errs: kept}
}

// detail is err's text without this package's "raftsync: " prefixes, for
// nesting one raftsync error's text inside another's.
func detail(err error) string {
	return strings.ReplaceAll(err.Error(), "raftsync: ", "")
}

// remoteDetail is the message of a remote Status without the prefix of
// sentinel, which the error made from it names already, nor the package
// prefixes.
func remoteDetail(sentinel error, msg string) string {
	if sentinel != nil {
		msg = strings.TrimPrefix(msg, sentinel.Error())
		msg = strings.TrimPrefix(msg, ": ")
	}
	return strings.ReplaceAll(msg, "raftsync: ", "")
}
