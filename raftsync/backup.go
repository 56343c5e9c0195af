package raftsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/snapshot"
)

// ErrBadBackup is returned by Restore for a backup that is not a raftkit
// backup, is corrupt, truncated or forged (header values no writer
// produces), expands past Config.MaxRestoreSize (then it wraps
// snapshot.ErrTooLarge too), or that the application's SnapshotValidator
// refused. Nothing is changed.
var ErrBadBackup = errors.New("raftsync: unusable backup")

// Backup writes a consistent, self-describing, checksummed backup of the
// replicated state to w, like `consul snapshot save`. It first makes the
// node's state current with a Strong read barrier, so the backup holds
// every write acknowledged before Backup was called, then takes a fresh
// snapshot (or uses the latest one when nothing was applied since) and
// streams it out with the cluster and membership it came from.
//
// Backup works on any member. It blocks until the backup is written;
// cancelling ctx stops the wait for the barrier and the snapshot, not a
// write to w already under way.
//
// Errors: ErrClosed, the barrier's errors (ErrNoLeader), a snapshot or
// write error.
func (n *Node) Backup(ctx context.Context, w io.Writer) (err error) {
	if n.life.closed.Load() {
		return ErrClosed
	}
	start := time.Now()
	var written int64
	defer func() { n.stats.backup.done(start, written, err) }()
	if _, err := n.ReadIndex(ctx, consistency.Strong); err != nil {
		return fmt.Errorf("raftsync: backup: %w", err)
	}
	meta, rc, err := n.snapshotForBackup(ctx)
	if err != nil {
		return fmt.Errorf("raftsync: backup: %w", err)
	}
	defer rc.Close()
	h := snapshot.BackupHeader{
		ClusterID:          n.ClusterID(),
		NodeID:             n.cfg.ID,
		Index:              meta.Index,
		Term:               meta.Term,
		ConfigurationIndex: meta.ConfigurationIndex,
		Configuration:      raft.EncodeConfiguration(meta.Configuration),
		CreatedUnixNano:    time.Now().UnixNano(),
		Size:               meta.Size,
	}
	if err := snapshot.WriteBackup(w, h, rc); err != nil {
		return fmt.Errorf("raftsync: backup: %w", err)
	}
	written = meta.Size
	n.logger.Info("backup written", "index", meta.Index, "bytes", meta.Size)
	return nil
}

// snapshotForBackup takes a snapshot, or opens the latest one when nothing
// new was applied since it. Right after a restart raft may briefly refuse
// (the application holds entries raft has not re-delivered yet): retry.
func (n *Node) snapshotForBackup(ctx context.Context) (*raft.SnapshotMeta, io.ReadCloser, error) {
	for attempt := 0; ; attempt++ {
		f := n.raft.Snapshot()
		err := n.life.futures.wait(ctx, f)
		switch {
		case err == nil:
			return f.Open()
		case errors.Is(err, raft.ErrNothingNewToSnapshot):
			metas, lerr := n.store.snapshots.List()
			newest := newestSnapshot(metas)
			if lerr != nil || newest == nil {
				return nil, nil, fmt.Errorf("no snapshot to back up: %w", err)
			}
			return n.store.snapshots.Open(newest.ID)
		case ctx.Err() != nil:
			return nil, nil, err
		}
		n.logger.Debug("snapshot for backup refused; retrying", "error", err)
		if !sleepCtx(ctx, backoff(attempt)) {
			return nil, nil, fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		}
	}
}

// Restore replaces the whole cluster's state with a backup written by
// Backup, like `consul snapshot restore`. The backup is verified in full
// before raft sees anything: its format and checksums, every header value
// (a checksum proves integrity, not origin: an index of 0 or past
// snapshot.MaxBackupIndex, a term out of range or a configuration raft
// would refuse is refused), the snapshot inside, its decompressed size
// (at most Config.MaxRestoreSize), and the application's SnapshotValidator
// when its FSM implements one. A corrupt, truncated, forged or oversized
// backup is refused with ErrBadBackup, its spool files are deleted and the
// cluster's state and log stay as they were.
//
// The restore lands one past the larger of the leader's last index and
// the backup's Index (raft's rule, which keeps the log's indexes above
// those the restored state was taken at), in the live cluster's current
// term; the backup's Term and membership are not used (the cluster keeps
// its own). The backup's Index is bounded (see snapshot.MaxBackupIndex), so
// no backup can make raft's index wrap.
//
// Restore must be called on the leader (a *NotLeaderError names it
// otherwise): the backup is streamed into raft there and reaches the
// followers as an installed snapshot. Writes in flight when the restore
// starts fail with ErrIndeterminate. Once Restore returns, every node's
// applied index moves past the restore point with its next entry; Restore
// commits one so that WaitIndex on the returned index works on every node.
//
// ctx bounds the whole call, checked between reads of r (a Read blocked
// inside r returns when r does). When ctx ends before the verified backup
// is handed to raft, Restore returns ctx's error and nothing has changed.
// When it ends after, Restore returns at once with an error wrapping both
// ctx's error and ErrIndeterminate: raft runs a restore it has accepted to
// its end (or fails it), so the cluster's state may still be replaced
// afterwards; Status or a Strong read tell.
//
// Errors: ErrClosed, *NotLeaderError, ErrBadBackup, ctx's error,
// ErrIndeterminate, raft's error.
func (n *Node) Restore(ctx context.Context, r io.Reader) (_ uint64, err error) {
	if n.life.closed.Load() {
		return 0, ErrClosed
	}
	if n.raft.State() != raft.Leader {
		return 0, n.notLeader()
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	start := time.Now()
	var restored int64
	defer func() { n.stats.backupRestore.done(start, restored, err) }()
	h, data, err := snapshot.ReadBackup(ctxReader{ctx, r}, n.store.spoolDir)
	if err != nil {
		return 0, restoreReadError(ctx, err)
	}
	defer data.Close()
	// The snapshot inside is verified again and re-framed with index 0 and
	// the live cluster's term: its own header describes another log.
	limit := restoreLimit(n.cfg.MaxRestoreSize, h.Size)
	hdr, payload, err := snapshot.VerifyLimited(ctxReader{ctx, data}, n.store.spoolDir, limit)
	if errors.Is(err, snapshot.ErrTooLarge) {
		return 0, fmt.Errorf("%w: %w (Config.MaxRestoreSize; the backup's snapshot is %d bytes)", ErrBadBackup, err, h.Size)
	}
	if err != nil {
		return 0, restoreReadError(ctx, err)
	}
	defer payload.Close()
	term := n.raft.CurrentTerm()
	// Re-frame into a temporary file while the application's validator,
	// if any, reads the same bytes.
	tmp, err := os.CreateTemp(n.store.spoolDir, "restore-*")
	if err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	handedOff := false
	defer func() {
		if !handedOff {
			removeSpool(tmp)
		}
	}()
	w, err := snapshot.NewWriter(tmp, snapshot.Header{Term: term, Compression: hdr.Compression, CreatedUnixNano: hdr.CreatedUnixNano})
	if err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	tee := io.TeeReader(ctxReader{ctx, payload}, w)
	if v, ok := n.fsm.app.(SnapshotValidator); ok {
		if err := v.ValidateSnapshot(tee); err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("raftsync: restore: %w", ctx.Err())
			}
			return 0, fmt.Errorf("%w: the application refused it: %w", ErrBadBackup, err)
		}
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	size, err := tmp.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	// raft places a user restore at max(meta.Index, its last index) + 1,
	// in its current term (restoreUserSnapshot); meta.Term is not used.
	// meta.Index is the backup's Index, which ReadBackup bounded to
	// 1..snapshot.MaxBackupIndex, so the +1 cannot wrap: it only keeps the
	// log's indexes from falling below the indexes the restored state was
	// taken at, which FSMs that record raft indexes in their state (the
	// gateway's ModifiedIndex and tombstone horizon) rely on.
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: h.Index, Term: term, Size: size}
	// raft.Restore cannot be cancelled: its timeout bounds only the
	// enqueues, and it then waits for the restore and a no-op after it.
	// It runs on its own goroutine, which owns tmp from here on and
	// removes it when raft is done with it.
	handedOff = true
	result := make(chan error, 1)
	go func() {
		defer removeSpool(tmp)
		result <- n.raft.Restore(meta, tmp, requestTimeout(ctx, time.Minute))
	}()
	select {
	case err = <-result:
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: restore handed to raft, which runs it to its end: %w", ErrIndeterminate, ctx.Err())
	case <-n.life.ctx.Done():
		return 0, fmt.Errorf("%w: %w", ErrIndeterminate, ErrClosed)
	}
	switch {
	case err == nil:
	case errors.Is(err, raft.ErrNotLeader):
		return 0, n.notLeader()
	case errors.Is(err, raft.ErrRaftShutdown):
		return 0, fmt.Errorf("%w: %w", ErrIndeterminate, ErrClosed)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return 0, fmt.Errorf("raftsync: restore: raft did not accept it in time: %w", err)
	default:
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	restored = size
	// A marker moves every node's applied index past the restore point.
	f := n.raft.ApplyLog(raft.Log{Type: raft.LogCommand, Extensions: markerExtension}, requestTimeout(ctx, 0))
	if err := n.life.futures.wait(ctx, f); err != nil {
		return 0, fmt.Errorf("raftsync: restore committed, marker after it failed: %w", applyError(err))
	}
	n.logger.Info("restored backup", "from_cluster", h.ClusterID, "from_node", h.NodeID, "backup_index", h.Index, "index", f.Index())
	return f.Index(), nil
}

// restoreLimit is the largest decompressed payload Restore spools for a
// backup whose snapshot is backupSize bytes: configured, or 32 times
// backupSize but at least 64 MiB.
func restoreLimit(configured, backupSize int64) int64 {
	if configured > 0 {
		return configured
	}
	const floor, ratio = 64 << 20, 32
	if backupSize > math.MaxInt64/ratio {
		return math.MaxInt64
	}
	return max(floor, ratio*backupSize)
}

// restoreReadError classifies a failure to read or verify a backup: ctx's
// end, a failure of the input or the spool, or a bad backup.
func restoreReadError(ctx context.Context, err error) error {
	var fe *snapshot.FormatError
	switch {
	case errors.As(err, &fe):
		return fmt.Errorf("%w: %w", ErrBadBackup, err)
	case ctx.Err() != nil:
		return fmt.Errorf("raftsync: restore: %w", ctx.Err())
	default:
		return fmt.Errorf("raftsync: restore: reading the backup: %w", err)
	}
}

// removeSpool closes and deletes a temporary file.
func removeSpool(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// ctxReader fails every Read once ctx has ended.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
