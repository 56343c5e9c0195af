package faultsuite

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/snapshot"
)

// forge re-writes the backup b with its header changed by edit, with valid
// checksums: a checksum is not authentication, anyone can compute one.
func forge(t *testing.T, b []byte, edit func(*snapshot.BackupHeader)) []byte {
	t.Helper()
	h, data, err := snapshot.ReadBackup(bytes.NewReader(b), t.TempDir())
	if err != nil {
		t.Fatalf("reading the genuine backup: %v", err)
	}
	defer data.Close()
	genuine := h
	edit(&h)
	// WriteBackup refuses forged Index and Term values: write the genuine
	// ones and patch the forged ones in below, as a forger would.
	index, term := h.Index, h.Term
	h.Index, h.Term = genuine.Index, genuine.Term
	var out bytes.Buffer
	payload, err := io.ReadAll(data)
	if err != nil {
		t.Fatal(err)
	}
	size := h.Size
	h.Size = int64(len(payload))
	if err := snapshot.WriteBackup(&out, h, bytes.NewReader(payload)); err != nil {
		t.Fatalf("forging: %v", err)
	}
	b = out.Bytes()
	if index != genuine.Index || term != genuine.Term {
		b = patchIndexTerm(b, index, term)
	}
	if size != h.Size {
		// A header that claims more bytes than follow: patch the size
		// field in place and fix the header checksum, as a forger would.
		return patchSize(t, b, size)
	}
	return b
}

// patchIndexTerm sets the header's Index and Term fields of the backup b
// and recomputes the header's checksum and the trailing one over the whole
// stream: the format's checksums are no obstacle to a forger.
func patchIndexTerm(b []byte, index, term uint64) []byte {
	out := append([]byte(nil), b...)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	fieldsLen := int(binary.BigEndian.Uint32(out[10:14]))
	end := 14 + fieldsLen
	off := 14
	off += 2 + int(binary.BigEndian.Uint16(out[off:])) // cluster ID
	off += 2 + int(binary.BigEndian.Uint16(out[off:])) // node ID
	binary.BigEndian.PutUint64(out[off:], index)
	binary.BigEndian.PutUint64(out[off+8:], term)
	binary.BigEndian.PutUint32(out[end:end+4], crc32.Checksum(out[:end], castagnoli))
	n := len(out) - 4
	binary.BigEndian.PutUint32(out[n:], crc32.Checksum(out[:n], castagnoli))
	return out
}

// TestForgedBackupsAreRefusedAndChangeNothing restores, on the leader of a
// cluster holding data, backups that are not what they claim: a genuine
// backup of that same state with its header's Index or Term forged
// (checksums recomputed), a truncated one, and one whose header claims a
// huge snapshot. Each Restore must return within its context's deadline
// (plus a second) and leave a cluster that commits and applies a new write
// on every member, after its last index; no member's registers may change
// (the payload is the state they hold); the truncated and oversized ones
// must be refused with ErrBadBackup. Whether a forged Index or Term must be
// refused, or may be ignored because the restore index comes from the
// cluster, is the fix's choice: the test asks only that it does no harm.
func TestForgedBackupsAreRefusedAndChangeNothing(t *testing.T) {
	for _, tc := range []struct {
		name       string
		edit       func(t *testing.T, genuine []byte) []byte
		mustRefuse bool
	}{
		{"index MaxUint64", func(t *testing.T, b []byte) []byte {
			return forge(t, b, func(h *snapshot.BackupHeader) { h.Index = math.MaxUint64 })
		}, false},
		{"term MaxUint64", func(t *testing.T, b []byte) []byte {
			return forge(t, b, func(h *snapshot.BackupHeader) { h.Term = math.MaxUint64 })
		}, false},
		{"index 0", func(t *testing.T, b []byte) []byte {
			return forge(t, b, func(h *snapshot.BackupHeader) { h.Index = 0 })
		}, false},
		{"truncated", func(t *testing.T, b []byte) []byte { return b[:len(b)/2] }, true},
		{"size 1 TiB", func(t *testing.T, b []byte) []byte {
			return forge(t, b, func(h *snapshot.BackupHeader) { h.Size = 1 << 40 })
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.New(t, 3, testcluster.Options{NewFSM: func(int) raft.FSM { return NewFSM() }})
			l := c.Leader()
			for i := range 10 {
				writeKV(t, l, fmt.Sprintf("k%d", i%3), fmt.Sprint(i))
			}
			var genuine bytes.Buffer
			if err := l.Node.Backup(ctxFor(t, 10*time.Second), &genuine); err != nil {
				t.Fatal(err)
			}
			backup := tc.edit(t, genuine.Bytes())
			for _, m := range c.Running() {
				if err := m.Node.WaitIndex(ctxFor(t, 10*time.Second), l.Node.AppliedIndex()); err != nil {
					t.Fatal(err)
				}
			}
			before := registers(c)
			lastBefore := l.Node.Raft().LastIndex()

			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := l.Node.Restore(ctx, bytes.NewReader(backup))
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(3*time.Second + time.Second):
				t.Errorf("Restore has not returned %v after it was called, past its context's 3s deadline; closing the cluster",
					time.Since(start).Round(time.Millisecond))
				c.Close()
				err = <-done
				t.Fatalf("Restore returned after the cluster closed, %v after it was called: %v", time.Since(start).Round(time.Millisecond), err)
			}
			t.Logf("Restore returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if tc.mustRefuse && !errors.Is(err, raftsync.ErrBadBackup) {
				t.Errorf("Restore: %v, want ErrBadBackup", err)
			}
			// The cluster must go on committing, on every member.
			l = c.Leader()
			wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer wcancel()
			res, werr := l.Node.Apply(wctx, WriteCommand("after", tc.name))
			if werr != nil {
				t.Fatalf("after the restore a write on the leader %s fails: %v (last index %d, before the restore %d)",
					l.ID, werr, l.Node.Raft().LastIndex(), lastBefore)
			}
			if res.Index <= lastBefore {
				t.Errorf("a write after the restore committed at %d, not after the last index %d before it: the log went backwards", res.Index, lastBefore)
			}
			for _, m := range c.Running() {
				if err := m.Node.WaitIndex(wctx, res.Index); err != nil {
					t.Fatalf("%s did not apply the write after the restore: %v", m.ID, err)
				}
			}
			// The backup holds the state as it was: a restore, refused or
			// not, leaves the registers as they were.
			for id, regs := range registers(c) {
				delete(regs, "after")
				if !maps.Equal(regs, before[id]) {
					t.Errorf("the restore changed %s's registers to %v, were %v", id, regs, before[id])
				}
			}
		})
	}
}

func writeKV(t *testing.T, m *testcluster.Member, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Node.Apply(ctx, WriteCommand(key, value)); err != nil {
		t.Fatalf("write %s=%q: %v", key, value, err)
	}
}

// registers returns every running member's registers, once it has applied
// what the leader has committed.
func registers(c *testcluster.Cluster) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, m := range c.Running() {
		out[m.ID] = m.FSM.(*FSM).Values()
	}
	return out
}

// patchSize sets the Size field of the backup header in b to size and
// recomputes the header checksum (layout in package snapshot's backup.go:
// preamble of 14 bytes, fields, CRC-32C; Size is the fields' last 8 bytes).
func patchSize(t *testing.T, b []byte, size int64) []byte {
	t.Helper()
	out := append([]byte(nil), b...)
	fieldsLen := int(binary.BigEndian.Uint32(out[10:14]))
	end := 14 + fieldsLen
	binary.BigEndian.PutUint64(out[end-8:end], uint64(size))
	binary.BigEndian.PutUint32(out[end:end+4], crc32.Checksum(out[:end], crc32.MakeTable(crc32.Castagnoli)))
	return out
}
