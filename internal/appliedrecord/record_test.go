package appliedrecord_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"strings"
	"testing"

	"github.com/raftkit/raftkit/internal/appliedrecord"
)

var sampleRecord = appliedrecord.Record{NodeID: "gw-1", ClusterID: "c-7f3a", Index: 4500, Term: 3}

func mustMarshal(t testing.TB, r appliedrecord.Record) []byte {
	t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary(%+v): %v", r, err)
	}
	return b
}

// rawRecord builds a record from an arbitrary body (everything after the
// magic and version) with a correct checksum, to reach the checks behind it.
func rawRecord(version byte, body []byte) []byte {
	b := append([]byte("RKAI"), version)
	b = append(b, body...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  appliedrecord.Record
	}{
		{"zero", appliedrecord.Record{}},
		{"typical", sampleRecord},
		{"max indexes", appliedrecord.Record{NodeID: "n", ClusterID: "c", Index: math.MaxUint64, Term: math.MaxUint64}},
		{"longest identities", appliedrecord.Record{
			NodeID:    strings.Repeat("n", appliedrecord.MaxIDLength),
			ClusterID: strings.Repeat("c", appliedrecord.MaxIDLength),
			Index:     1 << 40, Term: 1 << 20,
		}},
		{"unicode identity", appliedrecord.Record{NodeID: "nœud-β", ClusterID: "集群", Index: 1, Term: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustMarshal(t, tt.rec)
			got, err := appliedrecord.Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.rec {
				t.Fatalf("round trip gave %+v, want %+v", got, tt.rec)
			}
		})
	}
}

func TestMarshalRejectsOversizedIdentity(t *testing.T) {
	long := strings.Repeat("x", appliedrecord.MaxIDLength+1)
	for _, r := range []appliedrecord.Record{{NodeID: long}, {ClusterID: long}} {
		if _, err := r.MarshalBinary(); !errors.Is(err, appliedrecord.ErrInvalidRecord) {
			t.Errorf("MarshalBinary with a %d-byte identity: err = %v, want ErrInvalidRecord", len(long), err)
		}
	}
}

func TestParseRecordDetectsEverySingleByteChange(t *testing.T) {
	b := mustMarshal(t, sampleRecord)
	for i := range b {
		for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff, 0x5a} {
			flipped := bytes.Clone(b)
			flipped[i] ^= mask
			r, err := appliedrecord.Parse(flipped)
			if !errors.Is(err, appliedrecord.ErrCorruptRecord) {
				t.Fatalf("byte %d ^ %#02x: Parse = %+v, %v; want ErrCorruptRecord", i, mask, r, err)
			}
			if r != (appliedrecord.Record{}) {
				t.Fatalf("byte %d ^ %#02x: a corrupt record returned %+v", i, mask, r)
			}
		}
	}
}

func TestParseRecordDetectsEveryTruncation(t *testing.T) {
	b := mustMarshal(t, sampleRecord)
	for n := 0; n < len(b); n++ {
		if _, err := appliedrecord.Parse(b[:n]); !errors.Is(err, appliedrecord.ErrCorruptRecord) {
			t.Fatalf("truncated to %d of %d bytes: err = %v, want ErrCorruptRecord", n, len(b), err)
		}
	}
	if _, err := appliedrecord.Parse(append(bytes.Clone(b), 0)); !errors.Is(err, appliedrecord.ErrCorruptRecord) {
		t.Fatalf("one byte appended: err = %v, want ErrCorruptRecord", err)
	}
}

func TestParseRecordRejectsMalformed(t *testing.T) {
	valid := mustMarshal(t, sampleRecord)
	tests := []struct {
		name    string
		data    []byte
		wantMsg string
	}{
		{"empty", nil, "truncated"},
		{"bad magic", append([]byte("XKAI"), valid[4:]...), "bad magic"},
		{"unknown version", rawRecord(2, []byte{0, 0, 1, 1}), "unknown format version 2"},
		{"checksum", append(bytes.Clone(valid[:len(valid)-4]), 0, 0, 0, 0), "checksum mismatch"},
		{"absurd identity length", rawRecord(1, binary.AppendUvarint(nil, 1<<40)), "limit 1024"},
		{"identity longer than the record", rawRecord(1, []byte{50, 'a', 'b', 0, 1, 1}), "truncated in the node ID"},
		{"trailing bytes", rawRecord(1, []byte{0, 0, 1, 1, 7}), "1 trailing bytes"},
		{"non-canonical varint", rawRecord(1, []byte{0, 0, 0x81, 0x00, 1}), "not minimally encoded"},
		{"varint overflow", rawRecord(1, []byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1}), "overflows"},
		{"missing term", rawRecord(1, []byte{2, 'a', 'b', 0, 1}), "truncated in the term"},
		{"longer than any record", make([]byte, 1<<20), "longer than any valid record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := appliedrecord.Parse(tt.data)
			if !errors.Is(err, appliedrecord.ErrCorruptRecord) {
				t.Fatalf("Parse = %+v, %v; want ErrCorruptRecord", r, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestRecordCheck(t *testing.T) {
	tests := []struct {
		name          string
		node, cluster string
		wantFields    []string
	}{
		{"same node and cluster", "gw-1", "c-7f3a", nil},
		{"other node", "gw-2", "c-7f3a", []string{"node ID"}},
		{"other cluster", "gw-1", "c-0000", []string{"cluster ID"}},
		{"both differ", "gw-2", "c-0000", []string{"node ID", "cluster ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sampleRecord.Check(tt.node, tt.cluster)
			if tt.wantFields == nil {
				if err != nil {
					t.Fatalf("Check: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, appliedrecord.ErrForeignRecord) {
				t.Fatalf("Check: %v, want ErrForeignRecord", err)
			}
			var fe *appliedrecord.ForeignRecordError
			if !errors.As(err, &fe) || fe.Field != tt.wantFields[0] {
				t.Fatalf("Check: %v, want a ForeignRecordError for %s", err, tt.wantFields[0])
			}
			for _, f := range tt.wantFields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			if fe.Field == "node ID" && (fe.Recorded != "gw-1" || fe.Expected != tt.node) {
				t.Errorf("ForeignRecordError = %+v, want recorded gw-1, expected %s", fe, tt.node)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, fails only with
// ErrCorruptRecord, and accepts exactly the canonical encodings: whatever it
// accepts re-encodes to the same bytes.
func FuzzParse(f *testing.F) {
	for _, r := range []appliedrecord.Record{{}, sampleRecord, {NodeID: "n", Index: math.MaxUint64, Term: 1}} {
		b, err := r.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("RKAI"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := appliedrecord.Parse(data)
		if err != nil {
			if !errors.Is(err, appliedrecord.ErrCorruptRecord) {
				t.Fatalf("error %v does not wrap ErrCorruptRecord", err)
			}
			return
		}
		again, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("accepted record %+v does not marshal: %v", r, err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted %x but it re-encodes to %x", data, again)
		}
	})
}
