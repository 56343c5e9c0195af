package snapshot

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// minSnapshotInterval is the smallest SnapshotInterval raft.ValidateConfig
// accepts.
const minSnapshotInterval = 5 * time.Millisecond

// Policy says when snapshots are taken and what is kept. The zero value is
// not valid; start from DefaultPolicy.
type Policy struct {
	// Threshold is how many log entries must accumulate after the last
	// snapshot before a new one is taken (raft.Config.SnapshotThreshold).
	// It bounds the log tail a restart has to scan and replay. At least 1.
	Threshold uint64
	// Interval is how often raft checks whether Threshold is reached; each
	// check happens at a random point between Interval and 2×Interval
	// (raft.Config.SnapshotInterval). At least 5ms, raft's own minimum.
	Interval time.Duration
	// TrailingLogs is how many log entries are kept behind a snapshot when
	// the log is compacted (raft.Config.TrailingLogs). A follower lagging by
	// fewer entries catches up from the log; one lagging by more needs a
	// whole snapshot installed. May be 0.
	TrailingLogs uint64
	// Retain is how many snapshots the node keeps on disk (the retain
	// argument of raft.NewFileSnapshotStore). At least 1.
	Retain int
}

// DefaultPolicy returns the policy raftkit uses unless told otherwise:
// Threshold 1024, Interval 30s, TrailingLogs 4096, Retain 2. It suits
// configuration state: small (megabytes), read constantly, written rarely.
//
//   - Threshold 1024 (raft's default is 8192). At start hashicorp/raft reads
//     every log entry after the last snapshot to rebuild the membership
//     configuration, and those entries are applied to the FSM again, so the
//     tail after the snapshot is what restart time grows with. Configuration
//     state is small, so a snapshot is cheap (one write of a few MB) and can
//     be taken often to keep that tail short.
//   - Interval 30s (raft's default is 120s). The check itself only reads
//     the last log index; a shorter interval means the tail overshoots
//     Threshold by fewer entries after a burst of writes.
//   - TrailingLogs 4096 (raft's default is 10240). Entries of configuration
//     state are small, so keeping four thresholds' worth costs little disk,
//     lets a follower that was down for a while catch up from the log
//     rather than by snapshot install, and — since it spans more than the
//     entries between two snapshots in all but extreme write bursts —
//     keeps the log complete back to the previous snapshot.
//   - Retain 2. When the newest snapshot fails verification at start, raft
//     falls back to the next older one it holds; with the log still
//     reaching back to it (see TrailingLogs), the node recovers its full
//     state instead of failing.
func DefaultPolicy() Policy {
	return Policy{
		Threshold:    1024,
		Interval:     30 * time.Second,
		TrailingLogs: 4096,
		Retain:       2,
	}
}

// Validate reports whether p can be used. The error wraps ErrInvalidPolicy
// and names the first offending field; nil means every field is in range.
func (p Policy) Validate() error {
	switch {
	case p.Threshold < 1:
		return fmt.Errorf("%w: Policy.Threshold must be at least 1, got %d", ErrInvalidPolicy, p.Threshold)
	case p.Interval < minSnapshotInterval:
		return fmt.Errorf("%w: Policy.Interval must be at least %v, got %v", ErrInvalidPolicy, minSnapshotInterval, p.Interval)
	case p.Retain < 1:
		return fmt.Errorf("%w: Policy.Retain must be at least 1, got %d", ErrInvalidPolicy, p.Retain)
	}
	return nil
}

// ApplyTo copies Threshold, Interval and TrailingLogs into c's
// SnapshotThreshold, SnapshotInterval and TrailingLogs, leaving every other
// field alone. Retain has no raft.Config field; the node passes it to
// raft.NewFileSnapshotStore. ApplyTo does not validate p; call Validate
// first.
func (p Policy) ApplyTo(c *raft.Config) {
	c.SnapshotThreshold = p.Threshold
	c.SnapshotInterval = p.Interval
	c.TrailingLogs = p.TrailingLogs
}
