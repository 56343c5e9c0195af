package appliedrecord

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// MaxIDLength is the longest node or cluster ID, in bytes, that a
// Record can carry. Longer identities are refused by MarshalBinary, and a
// length prefix above it marks a record as corrupt in Parse.
const MaxIDLength = 1024

const (
	recordMagic          = "RKAI"
	recordFormatVersion  = 1
	recordChecksumLength = 4
	// minRecordLength is magic, version, two empty strings (one length byte
	// each), two one-byte uvarints and the checksum.
	minRecordLength = len(recordMagic) + 1 + 1 + 1 + 1 + 1 + recordChecksumLength
	// maxRecordLength bounds every valid encoding; nothing longer is read.
	maxRecordLength = len(recordMagic) + 1 +
		2*(binary.MaxVarintLen64+MaxIDLength) +
		2*binary.MaxVarintLen64 + recordChecksumLength
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is the durable record of a node's applied index: the highest Raft
// log index (and its term) that the application's FSM had finished applying
// when the record was written, with the identity of the node and cluster it
// belongs to. It is the persisted index of the package documentation.
type Record struct {
	NodeID    string
	ClusterID string
	Index     uint64
	Term      uint64
}

// MarshalBinary encodes r as: the magic "RKAI", a format version byte (1),
// NodeID and ClusterID each as a uvarint length followed by the bytes, Index
// and Term as uvarints, and a big-endian CRC-32C (Castagnoli) of everything
// before it. It returns an error wrapping ErrInvalidRecord when an identity
// is longer than MaxIDLength; it never fails otherwise.
func (r Record) MarshalBinary() ([]byte, error) {
	if len(r.NodeID) > MaxIDLength {
		return nil, fmt.Errorf("%w: node ID is %d bytes, limit %d", ErrInvalidRecord, len(r.NodeID), MaxIDLength)
	}
	if len(r.ClusterID) > MaxIDLength {
		return nil, fmt.Errorf("%w: cluster ID is %d bytes, limit %d", ErrInvalidRecord, len(r.ClusterID), MaxIDLength)
	}
	b := make([]byte, 0, len(recordMagic)+1+len(r.NodeID)+len(r.ClusterID)+4*binary.MaxVarintLen64+recordChecksumLength)
	b = append(b, recordMagic...)
	b = append(b, recordFormatVersion)
	b = binary.AppendUvarint(b, uint64(len(r.NodeID)))
	b = append(b, r.NodeID...)
	b = binary.AppendUvarint(b, uint64(len(r.ClusterID)))
	b = append(b, r.ClusterID...)
	b = binary.AppendUvarint(b, r.Index)
	b = binary.AppendUvarint(b, r.Term)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return b, nil
}

// Parse decodes a record written by MarshalBinary. It is strict: it
// accepts exactly the bytes MarshalBinary produces for some Record and
// nothing else. Every failure wraps ErrCorruptRecord and says what is wrong
// (bad magic, unknown version, checksum mismatch, truncation, trailing
// bytes, an identity length above MaxIDLength, a non-canonical
// varint). It never allocates more than the length of b.
func Parse(b []byte) (Record, error) {
	switch {
	case len(b) > maxRecordLength:
		return Record{}, corruptf("%d bytes, longer than any valid record (%d)", len(b), maxRecordLength)
	case len(b) < minRecordLength:
		return Record{}, corruptf("truncated: %d bytes, a record has at least %d", len(b), minRecordLength)
	case !bytes.Equal(b[:len(recordMagic)], []byte(recordMagic)):
		return Record{}, corruptf("bad magic %q, want %q", b[:len(recordMagic)], recordMagic)
	case b[len(recordMagic)] != recordFormatVersion:
		return Record{}, corruptf("unknown format version %d, want %d", b[len(recordMagic)], recordFormatVersion)
	}
	end := len(b) - recordChecksumLength
	if got, want := crc32.Checksum(b[:end], castagnoli), binary.BigEndian.Uint32(b[end:]); got != want {
		return Record{}, corruptf("checksum mismatch: computed %08x, stored %08x", got, want)
	}
	d := recordDecoder{rest: b[len(recordMagic)+1 : end]}
	r := Record{
		NodeID:    d.string("node ID"),
		ClusterID: d.string("cluster ID"),
		Index:     d.uvarint("index"),
		Term:      d.uvarint("term"),
	}
	if d.err != nil {
		return Record{}, d.err
	}
	if len(d.rest) != 0 {
		return Record{}, corruptf("%d trailing bytes after the term", len(d.rest))
	}
	return r, nil
}

// Check reports whether r belongs to the node nodeID of cluster clusterID.
// It returns nil when both match, and otherwise a *ForeignRecordError per
// differing field (joined when both differ), each unwrapping to
// ErrForeignRecord and naming the recorded and the expected value.
func (r Record) Check(nodeID, clusterID string) error {
	var errs []error
	if r.NodeID != nodeID {
		errs = append(errs, &ForeignRecordError{Field: "node ID", Recorded: r.NodeID, Expected: nodeID})
	}
	if r.ClusterID != clusterID {
		errs = append(errs, &ForeignRecordError{Field: "cluster ID", Recorded: r.ClusterID, Expected: clusterID})
	}
	return errors.Join(errs...)
}

// recordDecoder reads fields in order and keeps the first error, so that
// Parse reads as the layout it decodes.
type recordDecoder struct {
	rest []byte
	err  error
}

func (d *recordDecoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.rest)
	switch {
	case n == 0:
		d.err = corruptf("truncated in the %s", field)
		return 0
	case n < 0:
		d.err = corruptf("the %s overflows 64 bits", field)
		return 0
	case n != uvarintLength(v):
		d.err = corruptf("the %s is not minimally encoded", field)
		return 0
	}
	d.rest = d.rest[n:]
	return v
}

func (d *recordDecoder) string(field string) string {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return ""
	}
	if n > MaxIDLength {
		d.err = corruptf("the %s claims %d bytes, limit %d", field, n, MaxIDLength)
		return ""
	}
	if n > uint64(len(d.rest)) {
		d.err = corruptf("truncated in the %s: %d bytes claimed, %d left", field, n, len(d.rest))
		return ""
	}
	s := string(d.rest[:n])
	d.rest = d.rest[n:]
	return s
}

func uvarintLength(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
