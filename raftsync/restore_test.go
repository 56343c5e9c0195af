package raftsync_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// forgeBackup encodes a backup the way the format documents it (see
// snapshot/backup.go), with valid checksums and whatever header values it
// is given: a checksum is not a signature, so anyone can do this.
func forgeBackup(version uint16, h snapshot.BackupHeader, data []byte) []byte {
	fields := binary.BigEndian.AppendUint16(nil, uint16(len(h.ClusterID)))
	fields = append(fields, h.ClusterID...)
	fields = binary.BigEndian.AppendUint16(fields, uint16(len(h.NodeID)))
	fields = append(fields, h.NodeID...)
	fields = binary.BigEndian.AppendUint64(fields, h.Index)
	fields = binary.BigEndian.AppendUint64(fields, h.Term)
	fields = binary.BigEndian.AppendUint64(fields, h.ConfigurationIndex)
	fields = binary.BigEndian.AppendUint32(fields, uint32(len(h.Configuration)))
	fields = append(fields, h.Configuration...)
	fields = binary.BigEndian.AppendUint64(fields, uint64(h.CreatedUnixNano))
	fields = binary.BigEndian.AppendUint64(fields, uint64(len(data)))
	b := []byte{0x89, 'R', 'K', 'B', 'K', 'U', 'P', '\n'}
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(fields)))
	b = append(b, fields...)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// bombSnapshot is a valid flate snapshot stream whose payload is n zero
// bytes.
func bombSnapshot(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := snapshot.NewWriter(&buf, snapshot.Header{Index: 5, Term: 2, Compression: snapshot.Flate})
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for ; n > 0; n -= len(zeros) {
		if _, err := w.Write(zeros[:min(n, len(zeros))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// clusterState is what a refused Restore must leave unchanged on a node.
type clusterState struct {
	lastIndex   uint64
	fingerprint string
}

func stateOf(c *testcluster.Cluster) map[string]clusterState {
	s := map[string]clusterState{}
	for _, m := range c.Running() {
		s[m.ID] = clusterState{lastIndex: m.Node.Raft().LastIndex(), fingerprint: m.KV().Fingerprint()}
	}
	return s
}

func spoolFiles(t *testing.T, m *testcluster.Member) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(m.Dir, "tmp"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestRestoreRefusesForgedBackups runs forged, damaged and oversized
// backups against a real 3-node loopback cluster: each is refused with
// ErrBadBackup before raft sees anything, every node's log (last index)
// and state stay as they were, no spool file is left behind, and a write
// afterwards succeeds. Before the fix, Index=MaxUint64 wrapped raft's last
// index and wedged the cluster, and Index=0, a huge Term or the bomb were
// restored.
func TestRestoreRefusesForgedBackups(t *testing.T) {
	const restoreLimit = 4 << 20
	c := testcluster.New(t, 3, testcluster.Options{
		Configure: func(_ int, cfg *raftsync.Config) { cfg.MaxRestoreSize = restoreLimit },
	})
	for i := 0; i < 20; i++ {
		mustApply(t, c.Members[i%3], testcluster.Set(fmt.Sprintf("k%d", i), "v"))
	}
	var backup bytes.Buffer
	if err := c.Leader().Node.Backup(ctxTimeout(t, 10*time.Second), &backup); err != nil {
		t.Fatal(err)
	}
	good := backup.Bytes()
	h, rc, err := snapshot.ReadBackup(bytes.NewReader(good), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	inner, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The forger's encoding is faithful: unmodified, it is the backup.
	if !bytes.Equal(forgeBackup(snapshot.FormatVersion, h, inner), good) {
		t.Fatal("test setup: forgeBackup does not reproduce a real backup")
	}
	edit := func(f func(*snapshot.BackupHeader)) snapshot.BackupHeader { e := h; f(&e); return e }
	fieldsEnd := len(forgeBackup(snapshot.FormatVersion, h, nil)) - 8 // header CRC and file CRC follow
	cases := []struct {
		name   string
		backup []byte
		also   error
	}{
		{"Index=MaxUint64", forgeBackup(snapshot.FormatVersion, edit(func(h *snapshot.BackupHeader) { h.Index = math.MaxUint64 }), inner), snapshot.ErrCorrupt},
		{"Index=0", forgeBackup(snapshot.FormatVersion, edit(func(h *snapshot.BackupHeader) { h.Index = 0 }), inner), snapshot.ErrCorrupt},
		{"Term=MaxUint64", forgeBackup(snapshot.FormatVersion, edit(func(h *snapshot.BackupHeader) { h.Term = math.MaxUint64 }), inner), snapshot.ErrCorrupt},
		{"wrong version", forgeBackup(snapshot.FormatVersion+1, h, inner), snapshot.ErrUnsupportedVersion},
		{"truncated header", good[:fieldsEnd-5], snapshot.ErrTruncated},
		{"truncated payload", good[:len(good)-len(inner)/2], snapshot.ErrTruncated},
		{"bad checksum", flip(good, len(good)-len(inner)/2), snapshot.ErrCorrupt},
		{"decompression bomb", forgeBackup(snapshot.FormatVersion, h, bombSnapshot(t, 4*restoreLimit)), snapshot.ErrTooLarge},
	}
	before := stateOf(c)
	leader := c.Leader()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx, err := leader.Node.Restore(ctxTimeout(t, 10*time.Second), bytes.NewReader(tc.backup))
			if !errors.Is(err, raftsync.ErrBadBackup) || !errors.Is(err, tc.also) || idx != 0 {
				t.Fatalf("Restore = %d, %v; want ErrBadBackup wrapping %v", idx, err, tc.also)
			}
			if after := stateOf(c); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a refused backup changed the cluster:\nbefore %v\nafter  %v", before, after)
			}
			if left := spoolFiles(t, leader); len(left) != 0 {
				t.Fatalf("spool files left behind: %v", left)
			}
		})
	}
	idx := mustApply(t, c.Followers()[0], testcluster.Set("after", "refusals"))
	waitConverged(t, c, idx)
	for _, m := range c.Running() {
		if st := m.Node.Status().Readiness; st.State != readiness.Ready {
			t.Fatalf("%s not ready after the refusals: %v", m.ID, st)
		}
	}
}

// gatedRestoreKV blocks the application's Restore until its gate opens,
// so a test can hold a restore inside raft.
type gatedRestoreKV struct {
	*testcluster.KV
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (g *gatedRestoreKV) Restore(rc io.ReadCloser) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
	return g.KV.Restore(rc)
}

func (g *gatedRestoreKV) open() { g.once.Do(func() { close(g.gate) }) }

// TestRestoreReturnsWhenCtxEnds: Restore is bounded by its ctx, also once
// the restore is inside raft. With the application's Restore held on the
// leader, Restore must return ctx's error (and ErrIndeterminate: raft runs
// an accepted restore to its end) while the restore is still held; once
// released, the restore completes and the cluster keeps working. Before
// the fix Restore waited for raft however long it took.
func TestRestoreReturnsWhenCtxEnds(t *testing.T) {
	src := testcluster.New(t, 1, testcluster.Options{})
	mustApply(t, src.Leader(), testcluster.Set("from", "backup"))
	var backup bytes.Buffer
	if err := src.Leader().Node.Backup(ctxTimeout(t, 10*time.Second), &backup); err != nil {
		t.Fatal(err)
	}
	want := src.Leader().KV().Fingerprint()

	fsms := make([]*gatedRestoreKV, 3)
	c := testcluster.New(t, 3, testcluster.Options{NewFSM: func(i int) raft.FSM {
		fsms[i] = &gatedRestoreKV{KV: testcluster.NewKV(), gate: make(chan struct{}), entered: make(chan struct{}, 1)}
		return fsms[i]
	}})
	t.Cleanup(func() {
		for _, f := range fsms {
			f.open()
		}
	})
	mustApply(t, c.Leader(), testcluster.Set("only-in-destination", "x"))
	leader := c.Leader()

	// A ctx that has already ended changes nothing.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	before := stateOf(c)
	if _, err := leader.Node.Restore(done, bytes.NewReader(backup.Bytes())); !errors.Is(err, context.Canceled) || errors.Is(err, raftsync.ErrIndeterminate) {
		t.Fatalf("Restore with an ended ctx = %v, want context.Canceled and nothing begun", err)
	}
	if after := stateOf(c); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("Restore with an ended ctx changed the cluster")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := leader.Node.Restore(ctx, bytes.NewReader(backup.Bytes()))
		result <- err
	}()
	leaderFSM := fsms[leader.Index]
	select {
	case <-leaderFSM.entered:
	case err := <-result:
		t.Fatalf("Restore returned %v before the restore reached the FSM", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the restore never reached the leader's FSM")
	}
	// The restore is held inside raft; Restore must come back once ctx
	// ends (bounded wait: 10 s past ctx's deadline, the symptom).
	select {
	case err := <-result:
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, raftsync.ErrIndeterminate) {
			t.Fatalf("Restore = %v, want context.DeadlineExceeded and ErrIndeterminate", err)
		}
	case <-time.After(12 * time.Second):
		leaderFSM.open()
		<-result
		t.Fatal("Restore did not return when its ctx ended while raft held the restore")
	}
	// Released, the restore completes: every node ends with the backup's
	// state, and writes work.
	for _, f := range fsms {
		f.open()
	}
	idx := mustApply(t, c.Followers()[0], testcluster.Set("from", "backup"))
	if got := waitConverged(t, c, idx); got != want {
		t.Fatalf("after the restore completed: state %s, want %s", got, want)
	}
}
