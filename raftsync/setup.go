package raftsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/snapshot"
)

// DefaultJoinTimeout is Config.JoinTimeout's default: how long Open keeps
// asking the Join targets to add a new node before it gives up.
const DefaultJoinTimeout = time.Minute

// ErrJoinTimeout is returned by Open when Config.JoinTimeout passed before
// any member of Config.Join accepted the node. The error names the
// addresses tried and the last failure. Open released everything it took;
// the cluster may still add the node later if a request of the join was
// under way, so look at its membership before opening the Dir under
// another ID.
var ErrJoinTimeout = errors.New("raftsync: join timed out")

// errJoinTimedOut is the cause of the context Open gives the join, telling
// Config.JoinTimeout's end from the end of the caller's context.
var errJoinTimedOut = errors.New("raftsync: Config.JoinTimeout passed")

// snapshotDefaults fills each zero field of p from snapshot.DefaultPolicy.
func snapshotDefaults(p snapshot.Policy) snapshot.Policy {
	def := snapshot.DefaultPolicy()
	if p.Threshold == 0 {
		p.Threshold = def.Threshold
	}
	if p.Interval == 0 {
		p.Interval = def.Interval
	}
	if p.TrailingLogs == 0 {
		p.TrailingLogs = def.TrailingLogs
	}
	if p.Retain == 0 {
		p.Retain = def.Retain
	}
	return p
}

// dirMismatchError is the *ConfigError Open returns for a Dir that belongs
// to another cluster: errors.As finds the *ConfigError, errors.Is finds
// both ErrInvalidConfig and ErrClusterMismatch.
type dirMismatchError struct {
	cfg      *ConfigError
	sentinel error
}

func (e *dirMismatchError) Error() string   { return e.cfg.Error() }
func (e *dirMismatchError) Unwrap() []error { return []error{e.cfg, e.sentinel} }

// checkDir refuses, before anything of the Dir is used, a Dir that
// belongs to another node or cluster, and a fresh Dir the Config gives no
// way into a cluster. Each refusal is a *ConfigError naming the field and
// the Dir.
func (n *Node) checkDir() error {
	cfg := &n.cfg
	stored, err := n.store.nodeID()
	if err != nil {
		return err
	}
	if stored != "" && stored != cfg.ID {
		return &ConfigError{Field: "ID", Reason: fmt.Sprintf(
			"Dir %s belongs to node %q, Config.ID is %q: a Dir keeps the ID it was created with "+
				"(open it as %q, or give this node a new Dir)", cfg.Dir, stored, cfg.ID, stored)}
	}
	cluster, err := n.store.clusterID()
	if err != nil {
		return err
	}
	if cluster != "" && cfg.ClusterID != "" && cluster != cfg.ClusterID {
		return &dirMismatchError{sentinel: ErrClusterMismatch, cfg: &ConfigError{Field: "ClusterID", Reason: fmt.Sprintf(
			"Dir %s belongs to cluster %q, Config.ClusterID is %q", cfg.Dir, cluster, cfg.ClusterID)}}
	}
	if cfg.Bootstrap || len(cfg.Join) > 0 {
		return nil
	}
	has, err := raft.HasExistingState(n.store.logs, n.store.stable, n.store.snapshots)
	if err != nil {
		return fmt.Errorf("raftsync: checking existing state: %w", err)
	}
	if !has {
		return &ConfigError{Field: "Join", Reason: fmt.Sprintf(
			"Dir %s holds no raft state and neither Bootstrap nor Join is set: nothing would ever add this node; "+
				"set Bootstrap to start a new cluster or Join to the addresses of members of an existing one", cfg.Dir)}
	}
	return nil
}

// joinContext bounds the join by Config.JoinTimeout as well as by ctx.
func (n *Node) joinContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, n.cfg.JoinTimeout, errJoinTimedOut)
}

// joinGaveUp is the error of a join whose context ended: ErrJoinTimeout
// when Config.JoinTimeout ended it, else the caller's context's error.
// Both name the targets and the last failure.
func (n *Node) joinGaveUp(ctx context.Context, lastErr error) error {
	if lastErr == nil {
		lastErr = errors.New("no attempt finished")
	}
	if context.Cause(ctx) == errJoinTimedOut {
		return wrapf([]error{ErrJoinTimeout, lastErr}, "%v after %v: no member of %v accepted this node; last error: %v",
			ErrJoinTimeout, n.cfg.JoinTimeout, n.cfg.Join, lastErr)
	}
	return wrapf([]error{ctx.Err(), lastErr}, "could not join any of %v before the context ended: %v (last error: %v)", n.cfg.Join, ctx.Err(), lastErr)
}
