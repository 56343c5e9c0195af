package raftsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-metrics/compat"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/snapshot"
)

// ErrBadBackup is returned by Restore for a backup that is not a raftkit
// backup, is corrupt or truncated, or that the application's
// SnapshotValidator refused. Nothing is changed.
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
func (n *Node) Backup(ctx context.Context, w io.Writer) error {
	if n.closed.Load() {
		return ErrClosed
	}
	start := time.Now()
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
	metrics.SetGauge([]string{"raftkit", "backup", "size_bytes"}, float32(meta.Size))
	metrics.MeasureSince([]string{"raftkit", "backup", "duration"}, start)
	n.logger.Info("backup written", "index", meta.Index, "bytes", meta.Size)
	return nil
}

// snapshotForBackup takes a snapshot, or opens the latest one when nothing
// new was applied since it. Right after a restart raft may briefly refuse
// (the application holds entries raft has not re-delivered yet): retry.
func (n *Node) snapshotForBackup(ctx context.Context) (*raft.SnapshotMeta, io.ReadCloser, error) {
	for attempt := 0; ; attempt++ {
		f := n.raft.Snapshot()
		err := n.futures.wait(ctx, f)
		switch {
		case err == nil:
			return f.Open()
		case errors.Is(err, raft.ErrNothingNewToSnapshot):
			metas, lerr := n.store.snapshots.List()
			if lerr != nil || len(metas) == 0 {
				return nil, nil, fmt.Errorf("no snapshot to back up: %w", err)
			}
			return n.store.snapshots.Open(metas[0].ID)
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
// (format, checksums, and the application's SnapshotValidator when its FSM
// implements one) before anything changes; a corrupt, truncated or foreign
// backup is refused with ErrBadBackup and the state stays as it was.
//
// Restore must be called on the leader (a *NotLeaderError names it
// otherwise): the backup is streamed into raft there and reaches the
// followers as an installed snapshot. The cluster's membership is kept, not
// taken from the backup. Writes in flight when the restore starts fail with
// ErrIndeterminate. Once Restore returns, every node's applied index moves
// past the restore point with its next entry; Restore commits one so that
// WaitIndex on the returned index works on every node.
//
// Errors: ErrClosed, *NotLeaderError, ErrBadBackup, raft's error.
func (n *Node) Restore(ctx context.Context, r io.Reader) (uint64, error) {
	if n.closed.Load() {
		return 0, ErrClosed
	}
	if n.raft.State() != raft.Leader {
		return 0, n.notLeader()
	}
	start := time.Now()
	h, data, err := snapshot.ReadBackup(r, n.store.spoolDir)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadBackup, err)
	}
	defer data.Close()
	// The snapshot inside is verified again and re-framed with index 0:
	// its payload was taken at an index of another log, which means
	// nothing here (the FSM wrapper takes raft's index instead).
	hdr, payload, err := snapshot.Verify(data, n.store.spoolDir)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadBackup, err)
	}
	defer payload.Close()
	// Re-frame into a temporary file while the application's validator,
	// if any, reads the same bytes.
	tmp, err := os.CreateTemp(n.store.spoolDir, "restore-*")
	if err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	w, err := snapshot.NewWriter(tmp, snapshot.Header{Term: hdr.Term, Compression: hdr.Compression, CreatedUnixNano: hdr.CreatedUnixNano})
	if err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	tee := io.TeeReader(payload, w)
	if v, ok := n.fsm.app.(SnapshotValidator); ok {
		if err := v.ValidateSnapshot(tee); err != nil {
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
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: h.Index, Term: h.Term, Size: size}
	// raft.Restore's timeout bounds only the enqueue; the restore itself
	// runs to completion once started.
	if err := n.raft.Restore(meta, tmp, requestTimeout(ctx, time.Minute)); err != nil {
		return 0, fmt.Errorf("raftsync: restore: %w", err)
	}
	metrics.MeasureSince([]string{"raftkit", "restore", "duration"}, start)
	// A marker moves every node's applied index past the restore point.
	f := n.raft.ApplyLog(raft.Log{Type: raft.LogCommand, Extensions: markerExtension}, requestTimeout(ctx, 0))
	if err := n.futures.wait(ctx, f); err != nil {
		return 0, fmt.Errorf("raftsync: restore committed, marker after it failed: %w", applyError(err))
	}
	n.logger.Info("restored backup", "from_cluster", h.ClusterID, "from_node", h.NodeID, "backup_index", h.Index, "index", f.Index())
	return f.Index(), nil
}
