package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"

	"github.com/hashicorp/raft"
)

// forgeBackup encodes h and data as a backup with valid checksums but
// without WriteBackup's checks: what a forger who knows the format (and
// that CRC-32C is not a MAC) produces.
func forgeBackup(h BackupHeader, data []byte) []byte {
	h.Size = int64(len(data))
	b := appendBackupHeader(nil, h)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// forgedHeaders are headers whose checksums match but whose values no
// writer produces; each names the field it forges.
func forgedHeaders() map[string]BackupHeader {
	base := testBackupHeader(0)
	edit := func(f func(*BackupHeader)) BackupHeader { h := base; f(&h); return h }
	cfg := func(servers ...raft.Server) []byte {
		return raft.EncodeConfiguration(raft.Configuration{Servers: servers})
	}
	voter := raft.Server{Suffrage: raft.Voter, ID: "a", Address: "10.0.0.1:7000"}
	return map[string]BackupHeader{
		"Index=MaxUint64":          edit(func(h *BackupHeader) { h.Index = math.MaxUint64 }),
		"Index=0":                  edit(func(h *BackupHeader) { h.Index = 0 }),
		"Index=MaxInt64+1":         edit(func(h *BackupHeader) { h.Index = MaxBackupIndex + 1 }),
		"Term=MaxUint64":           edit(func(h *BackupHeader) { h.Term = math.MaxUint64 }),
		"Term=0":                   edit(func(h *BackupHeader) { h.Term = 0 }),
		"ConfigurationIndex>Index": edit(func(h *BackupHeader) { h.ConfigurationIndex = h.Index + 1 }),
		"ConfigurationIndex=0":     edit(func(h *BackupHeader) { h.ConfigurationIndex = 0 }),
		"ConfigurationIndex without Configuration": edit(func(h *BackupHeader) { h.Configuration = nil }),
		"Configuration garbage":                    edit(func(h *BackupHeader) { h.Configuration = []byte{0xc1, 0xff, 0x00} }),
		"Configuration without voter": edit(func(h *BackupHeader) {
			h.Configuration = cfg(raft.Server{Suffrage: raft.Nonvoter, ID: "a", Address: "x:1"})
		}),
		"Configuration with no servers":        edit(func(h *BackupHeader) { h.Configuration = cfg() }),
		"Configuration with duplicate ID":      edit(func(h *BackupHeader) { h.Configuration = cfg(voter, raft.Server{ID: "a", Address: "10.0.0.2:7000"}) }),
		"Configuration with duplicate address": edit(func(h *BackupHeader) { h.Configuration = cfg(voter, raft.Server{ID: "b", Address: voter.Address}) }),
		"Configuration with empty ID":          edit(func(h *BackupHeader) { h.Configuration = cfg(raft.Server{Address: "x:1"}) }),
		"Configuration with empty address":     edit(func(h *BackupHeader) { h.Configuration = cfg(raft.Server{ID: "a"}) }),
		"Configuration with unknown suffrage":  edit(func(h *BackupHeader) { h.Configuration = cfg(voter, raft.Server{Suffrage: 7, ID: "b", Address: "y:1"}) }),
		"Configuration not canonical":          edit(func(h *BackupHeader) { h.Configuration = append(bytes.Clone(h.Configuration), 0xc0) }),
		"CreatedUnixNano negative":             edit(func(h *BackupHeader) { h.CreatedUnixNano = -1 }),
	}
}

// TestReadBackupRefusesForgedHeaders: a checksum only proves the header
// was not damaged; ReadBackup must still refuse values no writer produces,
// before it spools a byte of the snapshot (the index of MaxUint64 once
// wedged a whole cluster).
func TestReadBackupRefusesForgedHeaders(t *testing.T) {
	data := encodeStream(t, Header{Index: 1, Term: 1}, []byte("state"))
	for name, h := range forgedHeaders() {
		t.Run(name, func(t *testing.T) {
			checkBackupRefused(t, forgeBackup(h, data), ErrCorrupt)
			// A writer refuses it too, before writing anything.
			var buf bytes.Buffer
			h.Size = int64(len(data))
			if err := WriteBackup(&buf, h, bytes.NewReader(data)); !errors.Is(err, ErrInvalidHeader) || buf.Len() != 0 {
				t.Fatalf("WriteBackup = %v after %d bytes, want ErrInvalidHeader and nothing written", err, buf.Len())
			}
		})
	}
	// The same forger's encoding of a valid header is accepted: the checks
	// above are about the values, not the forging.
	_, rc, err := ReadBackup(bytes.NewReader(forgeBackup(testBackupHeader(0), data)), t.TempDir())
	if err != nil {
		t.Fatalf("forged encoding of a valid header refused: %v", err)
	}
	rc.Close()
	minimal := BackupHeader{Index: 1, Term: 1}
	_, rc, err = ReadBackup(bytes.NewReader(forgeBackup(minimal, nil)), t.TempDir())
	if err != nil {
		t.Fatalf("minimal valid header refused: %v", err)
	}
	rc.Close()
}

// TestReadBackupRefusesAForgedHeaderBeforeReadingTheData: the refusal comes
// from the header alone; the input is not read further.
func TestReadBackupRefusesAForgedHeaderBeforeReadingTheData(t *testing.T) {
	h := testBackupHeader(0)
	h.Index = math.MaxUint64
	b := forgeBackup(h, bytes.Repeat([]byte{1}, 1<<20))
	r := bytes.NewReader(b)
	_, _, err := ReadBackup(r, t.TempDir())
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Kind != ErrCorrupt {
		t.Fatalf("ReadBackup = %v, want a FormatError of ErrCorrupt", err)
	}
	wantOff := int64(backupPreambleSize + 2 + len(h.ClusterID) + 2 + len(h.NodeID))
	if fe.Offset != wantOff {
		t.Errorf("refused at byte %d, want %d (the Index field)", fe.Offset, wantOff)
	}
	if read := len(b) - r.Len(); read > readBufferSize {
		t.Errorf("read %d bytes of a %d-byte backup whose header is forged", read, len(b))
	}
}
