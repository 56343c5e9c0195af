package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hashicorp/raft"
)

func testBackupHeader(size int) BackupHeader {
	return BackupHeader{
		ClusterID:          "gw-prod",
		NodeID:             "gw-1",
		Index:              1234,
		Term:               5,
		ConfigurationIndex: 1200,
		Configuration: raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{
			{Suffrage: raft.Voter, ID: "gw-1", Address: "10.0.0.1:7000"},
			{Suffrage: raft.Nonvoter, ID: "gw-2", Address: "10.0.0.2:7000"},
		}}),
		CreatedUnixNano: 1_700_000_000_000_000_000,
		Size:            int64(size),
	}
}

func encodeBackup(t testing.TB, h BackupHeader, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteBackup(&buf, h, bytes.NewReader(data)); err != nil {
		t.Fatalf("WriteBackup: %v", err)
	}
	return buf.Bytes()
}

func equalBackupHeaders(a, b BackupHeader) bool {
	return a.ClusterID == b.ClusterID && a.NodeID == b.NodeID && a.Index == b.Index && a.Term == b.Term &&
		a.ConfigurationIndex == b.ConfigurationIndex && bytes.Equal(a.Configuration, b.Configuration) &&
		a.CreatedUnixNano == b.CreatedUnixNano && a.Size == b.Size
}

func TestBackupRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 100_000, 1 << 20} {
		h := testBackupHeader(size)
		data := encodeStream(t, Header{Index: h.Index, Term: h.Term}, routeConfig(uint64(size), size))
		h.Size = int64(len(data))
		backup := encodeBackup(t, h, data)

		dir := t.TempDir()
		got, rc, err := ReadBackup(iotest.HalfReader(bytes.NewReader(backup)), dir)
		if err != nil {
			t.Fatalf("size %d: ReadBackup: %v", size, err)
		}
		if !equalBackupHeaders(got, h) {
			t.Errorf("size %d: header = %+v, want %+v", size, got, h)
		}
		// The snapshot inside is itself a stream that verifies.
		sh, payload, err := Verify(rc, dir)
		if err != nil {
			t.Fatalf("size %d: inner snapshot does not verify: %v", size, err)
		}
		if sh.Index != h.Index {
			t.Errorf("size %d: inner snapshot index %d, want %d", size, sh.Index, h.Index)
		}
		if b, _ := io.ReadAll(payload); !bytes.Equal(b, routeConfig(uint64(size), size)) {
			t.Errorf("size %d: inner payload differs", size)
		}
		payload.Close()
		rc.Close()
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Errorf("size %d: %v left in dir after Close", size, names)
		}
	}
}

func TestBackupConfigurationDecodes(t *testing.T) {
	h := testBackupHeader(0)
	cfg, err := h.RaftConfiguration()
	if err != nil || len(cfg.Servers) != 2 || cfg.Servers[1].ID != "gw-2" || cfg.Servers[1].Suffrage != raft.Nonvoter {
		t.Errorf("RaftConfiguration = %+v, %v", cfg, err)
	}
	h.Configuration = []byte{0xc1, 0xff, 0x00}
	if _, err := h.RaftConfiguration(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("RaftConfiguration of garbage = %v, want ErrCorrupt", err)
	}
}

// Offsets inside a backup written by testBackupHeader.
func backupOffsets(h BackupHeader) (fieldsEnd, dataStart int) {
	fieldsEnd = backupPreambleSize + backupFixedFields + len(h.ClusterID) + len(h.NodeID) + len(h.Configuration)
	return fieldsEnd, fieldsEnd + crcSize
}

func rechecksumBackupHeader(b []byte, fieldsEnd int) []byte {
	binary.BigEndian.PutUint32(b[fieldsEnd:], crc32.Checksum(b[:fieldsEnd], castagnoli))
	return b
}

func TestBackupCorruption(t *testing.T) {
	data := routeConfig(9, 64)
	h := testBackupHeader(len(data))
	good := encodeBackup(t, h, data)
	fieldsEnd, dataStart := backupOffsets(h)
	offNodeIDLen := backupPreambleSize + 2 + len(h.ClusterID)
	offConfigLen := offNodeIDLen + 2 + len(h.NodeID) + 24
	edit := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	cases := []struct {
		name   string
		backup []byte
		want   error
	}{
		{"empty", nil, ErrNotBackup},
		{"wrong magic", flip(good, 3), ErrNotBackup},
		{"a snapshot stream, not a backup", encodeStream(t, Header{}, data), ErrNotBackup},
		{"version flipped", flip(good, 9), ErrCorrupt},
		{"intact header of version 2", rechecksumBackupHeader(edit(func(b []byte) { b[9] = 2 }), fieldsEnd), ErrUnsupportedVersion},
		{"absurd header length", edit(func(b []byte) { binary.BigEndian.PutUint32(b[10:], 1<<31) }), ErrCorrupt},
		{"cluster id byte flipped", flip(good, backupPreambleSize+3), ErrCorrupt},
		{"configuration byte flipped", flip(good, offConfigLen+6), ErrCorrupt},
		{"size flipped", flip(good, fieldsEnd-1), ErrCorrupt},
		{"header checksum flipped", flip(good, fieldsEnd), ErrCorrupt},
		{"intact header with node id over the limit", rechecksumBackupHeader(edit(func(b []byte) { binary.BigEndian.PutUint16(b[offNodeIDLen:], MaxBackupIDLen+1) }), fieldsEnd), ErrCorrupt},
		{"intact header with configuration over the limit", rechecksumBackupHeader(edit(func(b []byte) { binary.BigEndian.PutUint32(b[offConfigLen:], MaxBackupConfigurationLen+1) }), fieldsEnd), ErrCorrupt},
		{"intact header with field running past the header", rechecksumBackupHeader(edit(func(b []byte) { binary.BigEndian.PutUint32(b[offConfigLen:], uint32(len(h.Configuration)+1)) }), fieldsEnd), ErrCorrupt},
		{"intact header with negative size", rechecksumBackupHeader(edit(func(b []byte) { b[fieldsEnd-8] = 0x80 }), fieldsEnd), ErrCorrupt},
		{"first data byte flipped", flip(good, dataStart), ErrCorrupt},
		{"last data byte flipped", flip(good, len(good)-crcSize-1), ErrCorrupt},
		{"trailer flipped", flip(good, len(good)-1), ErrCorrupt},
		{"extra trailing byte", append(bytes.Clone(good), '\n'), ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkBackupRefused(t, tc.backup, tc.want) })
	}
	t.Run("truncated at every offset", func(t *testing.T) {
		for cut := 0; cut < len(good); cut++ {
			want := ErrTruncated
			if cut == 0 {
				want = ErrNotBackup
			}
			checkBackupRefused(t, good[:cut], want)
		}
	})
}

func checkBackupRefused(t *testing.T, backup []byte, want error) {
	t.Helper()
	dir := t.TempDir()
	h, rc, err := ReadBackup(bytes.NewReader(backup), dir)
	if !errors.Is(err, want) || rc != nil || !equalBackupHeaders(h, BackupHeader{}) {
		t.Errorf("ReadBackup = %+v, %v, %v; want zero header, nil reader, error wrapping %v", h, rc, err, want)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("ReadBackup left %v in dir", names)
	}
}

func TestWriteBackupRefusesBadInput(t *testing.T) {
	long := strings.Repeat("x", MaxBackupIDLen+1)
	cases := []struct {
		name string
		edit func(*BackupHeader)
		data string
		want error
	}{
		{"cluster id too long", func(h *BackupHeader) { h.ClusterID = long }, "abc", ErrInvalidHeader},
		{"node id too long", func(h *BackupHeader) { h.NodeID = long }, "abc", ErrInvalidHeader},
		{"configuration too long", func(h *BackupHeader) { h.Configuration = make([]byte, MaxBackupConfigurationLen+1) }, "abc", ErrInvalidHeader},
		{"negative size", func(h *BackupHeader) { h.Size = -1 }, "", ErrInvalidHeader},
		{"data shorter than size", func(h *BackupHeader) { h.Size = 4 }, "abc", ErrSizeMismatch},
		{"data longer than size", func(h *BackupHeader) { h.Size = 2 }, "abc", ErrSizeMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := testBackupHeader(3)
			tc.edit(&h)
			var buf bytes.Buffer
			err := WriteBackup(&buf, h, strings.NewReader(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("WriteBackup = %v, want one wrapping %v", err, tc.want)
			}
			if tc.want == ErrInvalidHeader && buf.Len() != 0 {
				t.Errorf("wrote %d bytes for a refused header", buf.Len())
			}
			if buf.Len() > 0 {
				// A partial backup has no trailer and must not read back.
				if _, rc, err := ReadBackup(&buf, t.TempDir()); err == nil {
					rc.Close()
					t.Errorf("partial backup read back without error")
				}
			}
		})
	}
}

func TestBackupIOFailures(t *testing.T) {
	boom := errors.New("io failure")
	h := testBackupHeader(100)
	if err := WriteBackup(io.Discard, h, iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("WriteBackup with failing data = %v, want %v", err, boom)
	}
	if err := WriteBackup(&failingWriter{after: 10, err: boom}, h, bytes.NewReader(make([]byte, 100))); !errors.Is(err, boom) {
		t.Errorf("WriteBackup with failing writer = %v, want %v", err, boom)
	}
	good := encodeBackup(t, h, make([]byte, 100))
	dir := t.TempDir()
	_, rc, err := ReadBackup(io.MultiReader(bytes.NewReader(good[:len(good)-50]), iotest.ErrReader(boom)), dir)
	if !errors.Is(err, boom) || rc != nil || errors.Is(err, ErrTruncated) {
		t.Errorf("ReadBackup with failing input = %v, %v; want nil reader and %v", rc, err, boom)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("ReadBackup left %v in dir", names)
	}
}
