package raftsync_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testutil"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
)

func TestBackupRestoresIntoAFreshCluster(t *testing.T) {
	src := testcluster.New(t, 3, testcluster.Options{})
	for i := 0; i < 50; i++ {
		mustApply(t, src.Members[i%3], testcluster.Set(fmt.Sprintf("k%d", i), fmt.Sprint(i)))
	}
	var backup bytes.Buffer
	// Backup works on a follower too; its Strong barrier makes it current.
	if err := src.Followers()[0].Node.Backup(ctxTimeout(t, 10*time.Second), &backup); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	want := src.Leader().KV().Fingerprint()

	dst := testcluster.New(t, 3, testcluster.Options{})
	mustApply(t, dst.Leader(), testcluster.Set("only-in-destination", "x"))

	// Not on a follower.
	if _, err := dst.Followers()[0].Node.Restore(ctxTimeout(t, 10*time.Second), bytes.NewReader(backup.Bytes())); !errors.Is(err, raftsync.ErrNotLeader) {
		t.Fatalf("Restore on a follower = %v, want ErrNotLeader", err)
	}
	idx, err := dst.Leader().Node.Restore(ctxTimeout(t, 30*time.Second), bytes.NewReader(backup.Bytes()))
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got := waitConverged(t, dst, idx)
	if got != want {
		t.Fatalf("restored state differs:\n got %s\nwant %s", got, want)
	}
	// The restored cluster keeps working and keeps its own membership.
	idx = mustApply(t, dst.Followers()[0], testcluster.Set("after-restore", "y"))
	waitConverged(t, dst, idx)
	if n := len(dst.Leader().Node.Status().Members); n != 3 {
		t.Fatalf("membership after restore: %d members", n)
	}
}

func TestCorruptBackupChangesNothing(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	for i := 0; i < 10; i++ {
		mustApply(t, c.Leader(), testcluster.Set(fmt.Sprintf("k%d", i), "v"))
	}
	var backup bytes.Buffer
	if err := c.Leader().Node.Backup(ctxTimeout(t, 10*time.Second), &backup); err != nil {
		t.Fatal(err)
	}
	idx := mustApply(t, c.Leader(), testcluster.Set("later", "write"))
	before := waitConverged(t, c, idx)
	good := backup.Bytes()
	cases := map[string][]byte{
		"empty":        nil,
		"not a backup": []byte("hello, this is not a backup at all"),
		"truncated":    good[:len(good)/2],
		"flipped":      flip(good, len(good)/2),
		"flipped end":  flip(good, len(good)-2),
	}
	for name, b := range cases {
		_, err := c.Leader().Node.Restore(ctxTimeout(t, 10*time.Second), bytes.NewReader(b))
		if !errors.Is(err, raftsync.ErrBadBackup) {
			t.Fatalf("%s: Restore = %v, want ErrBadBackup", name, err)
		}
	}
	if after := c.Leader().KV().Fingerprint(); after != before {
		t.Fatal("a refused backup changed the state")
	}
}

func flip(b []byte, at int) []byte {
	out := append([]byte(nil), b...)
	out[at] ^= 0xff
	return out
}

func TestInMemoryRestartReplaysOnlyAfterSnapshot(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	m := c.Members[0]
	for i := 0; i < 300; i++ {
		mustApply(t, m, testcluster.Set(fmt.Sprintf("a%d", i), "v"))
	}
	if err := m.Node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		mustApply(t, m, testcluster.Set(fmt.Sprintf("b%d", i), "v"))
	}
	c.Stop(m)
	c.Start(m)
	kv := m.KV()
	if kv.Restores() != 1 || kv.Len() != 340 {
		t.Fatalf("after Open: %d restores, %d keys; want 1 restore and all 340 keys", kv.Restores(), kv.Len())
	}
	if got := kv.Applied(); got != 40 {
		t.Fatalf("replayed %d entries, want only the 40 after the snapshot", got)
	}
}

func TestCorruptNewestSnapshotFallsBackToOlder(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	m := c.Members[0]
	for round := 0; round < 2; round++ {
		for i := 0; i < 50; i++ {
			mustApply(t, m, testcluster.Set(fmt.Sprintf("r%d-%d", round, i), "v"))
		}
		if err := m.Node.Raft().Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
	}
	c.Stop(m)
	// Damage the newest snapshot's payload.
	dirs, _ := filepath.Glob(filepath.Join(m.Dir, "snapshots", "*"))
	if len(dirs) != 2 {
		t.Fatalf("want 2 snapshots on disk, have %v", dirs)
	}
	newest := dirs[len(dirs)-1]
	state := filepath.Join(newest, "state.bin")
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(state, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Start(m)
	if got := m.KV().Len(); got != 100 {
		t.Fatalf("recovered %d keys from the older snapshot and the log, want 100", got)
	}
	c.WaitReady(m)
}

// blobFSM holds one large generated blob. The joiner's copy keeps only a
// digest of what it restored, so the test can see how much memory the
// library itself uses to move a large snapshot.
type blobFSM struct {
	mu     sync.Mutex
	data   []byte // leader side
	digest [32]byte
	size   int64
}

func (b *blobFSM) Apply(l *raft.Log) interface{} {
	var n int
	if _, err := fmt.Sscanf(string(l.Data), "fill:%d", &n); err == nil {
		data := make([]byte, n)
		rand.New(rand.NewSource(1)).Read(data)
		b.mu.Lock()
		b.data, b.digest, b.size = data, sha256.Sum256(data), int64(n)
		b.mu.Unlock()
	}
	return nil
}

func (b *blobFSM) Snapshot() (raft.FSMSnapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return blobSnapshot(b.data), nil
}

func (b *blobFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	copy(b.digest[:], h.Sum(nil))
	b.size = n
	return nil
}

func (b *blobFSM) state() ([32]byte, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.digest, b.size
}

type blobSnapshot []byte

func (s blobSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}
func (blobSnapshot) Release() {}

func TestJoinWithLargeStateStreamsTheSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB of state")
	}
	const size = 50 << 20
	c := testcluster.New(t, 1, testcluster.Options{
		NewFSM: func(int) raft.FSM { return &blobFSM{} },
		// One entry of trailing log behind a snapshot: a joiner must
		// install it. (A zero TrailingLogs would be the default, 4096.)
		Configure: func(_ int, cfg *raftsync.Config) {
			cfg.Snapshot = snapshot.Policy{Threshold: 1 << 20, Interval: time.Hour, TrailingLogs: 1, Retain: 1}
		},
	})
	leader := c.Members[0]
	mustApply(t, leader, []byte(fmt.Sprintf("fill:%d", size)))
	idx := mustApply(t, leader, []byte("after"))
	if err := leader.Node.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var progress []string
	cfg := raftsync.Config{
		ID: "joiner", Dir: filepath.Join(t.TempDir(), "joiner"), Addr: "127.0.0.1:0",
		Join: []string{leader.Addr}, RaftConfig: testcluster.FastRaft, Logger: testcluster.Logger(t, "joiner"),
		OnReadinessChange: func(_, st readiness.Status) {
			if strings.Contains(st.Reason, "snapshot") {
				mu.Lock()
				progress = append(progress, st.Reason)
				mu.Unlock()
			}
		},
	}
	joiner := &blobFSM{}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	peak := make(chan uint64, 1)
	go func() { // sample the heap while the snapshot moves
		var top uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			top = max(top, ms.HeapInuse)
			select {
			case <-stop:
				peak <- top
				return
			case <-tick.C:
			}
		}
	}()
	node, err := raftsync.Open(ctxTimeout(t, 30*time.Second), cfg, joiner)
	if err != nil {
		close(stop)
		t.Fatal(err)
	}
	defer node.Close()
	err = node.WaitReady(ctxTimeout(t, 60*time.Second))
	close(stop)
	top := <-peak
	if err != nil {
		t.Fatal(err)
	}
	if node.AppliedIndex() < idx {
		t.Fatalf("joiner ready at %d < %d", node.AppliedIndex(), idx)
	}
	wantDigest, wantSize := leader.FSM.(*blobFSM).state()
	gotDigest, gotSize := joiner.state()
	if gotDigest != wantDigest || gotSize != wantSize {
		t.Fatalf("joiner restored %d bytes with another digest than the leader's %d", gotSize, wantSize)
	}
	growth := int64(top) - int64(base.HeapInuse)
	t.Logf("joined with %d MB of state; heap grew by at most %d MB while it moved; %d progress reports", size>>20, growth>>20, len(progress))
	// Leader and joiner share this process: the leader's snapshot goroutine
	// and the joiner's receive path both stream. Buffering the snapshot
	// anywhere would add its whole 50 MB.
	if growth > 32<<20 {
		t.Fatalf("heap grew by %d MB while moving a %d MB snapshot: something buffers it", growth>>20, size>>20)
	}
}

// A node snapshots as soon as Threshold entries were applied since the
// last snapshot, not when raft's SnapshotInterval timer next looks (an hour
// here), and raft then compacts the log behind it: the tail a restart reads
// stays near Threshold however long the log grows.
func TestSnapshotTakenAtThresholdKeepsTheLogTailShort(t *testing.T) {
	const threshold, trailing, writes = 100, 10, 450
	c := testcluster.New(t, 3, testcluster.Options{
		Configure: func(_ int, cfg *raftsync.Config) {
			cfg.Snapshot = snapshot.Policy{Threshold: threshold, Interval: time.Hour, TrailingLogs: trailing, Retain: 2}
		},
	})
	leader := c.Leader()
	var last uint64
	for i := range writes {
		last = mustApply(t, leader, testcluster.Set(fmt.Sprintf("k%d", i), "v"))
	}
	for _, m := range c.Members {
		testutil.WaitFor(t, 10*time.Second, m.ID+" snapshotted within Threshold of the last write", func() bool {
			idx, _ := strconv.ParseUint(m.Node.Raft().Stats()["last_snapshot_index"], 10, 64)
			return idx+threshold > last
		})
	}
	// A restarted member restores that snapshot and replays only the
	// short tail after it.
	m := c.Members[0]
	if m == leader {
		m = c.Members[1]
	}
	if err := m.Node.WaitIndex(ctxTimeout(t, 10*time.Second), last); err != nil {
		t.Fatal(err)
	}
	c.Stop(m)
	c.Start(m)
	kv := m.KV()
	if kv.Restores() != 1 || kv.Len() != writes {
		t.Fatalf("after Open: %d restores, %d keys; want 1 restore and all %d keys", kv.Restores(), kv.Len(), writes)
	}
	if got := kv.Applied(); got >= threshold {
		t.Fatalf("replayed %d entries at restart, want fewer than Threshold (%d)", got, threshold)
	}
}
