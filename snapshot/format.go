package snapshot

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// FormatVersion is the version of the snapshot stream and backup formats
// this package writes, and the only one it reads.
const FormatVersion = 1

// MaxChunkSize is the largest payload chunk a stream may hold. Writers emit
// chunks of at most this size; readers refuse a larger chunk length as
// corrupt, so a damaged length never makes them wait for gigabytes.
const MaxChunkSize = 64 << 10

// streamMagic opens every snapshot stream. Like PNG's signature it starts
// with a non-ASCII byte and ends with a newline, so text-mode transfers and
// line-ending conversions damage it visibly.
var streamMagic = [8]byte{0x89, 'R', 'K', 'S', 'N', 'A', 'P', '\n'}

// castagnoli is the CRC-32C table used for every checksum in both formats.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Stream layout (all integers big-endian):
//
//	magic          8 bytes  streamMagic
//	version        uint16   FormatVersion
//	fieldsLen      uint16   length of the header fields (25 in version 1)
//	fields                  compression uint8, index uint64, term uint64,
//	                        createdUnixNano int64
//	headerCRC      uint32   CRC-32C of everything above
//	chunks         zero or more of: 'D', uint32 n (1..MaxChunkSize), n bytes
//	end marker     'E'
//	payloadLen     uint64   number of payload bytes the application wrote
//	payloadCRC     uint32   CRC-32C of those bytes (before compression)
//	                        and nothing after it.
//
// The explicit end marker is what makes a cut exactly between two chunks
// detectable: a reader that meets the end of input where a chunk tag or the
// marker should be reports ErrTruncated.
const (
	preambleSize   = 8 + 2 + 2 // magic, version, fields length
	v1FieldsSize   = 1 + 8 + 8 + 8
	maxFieldsSize  = 1 << 10 // refuse absurd header lengths before reading them
	chunkTagData   = 'D'
	chunkTagEnd    = 'E'
	chunkHdrSize   = 1 + 4
	trailerSize    = 8 + 4 // after the end marker
	crcSize        = 4
	headerSizeV1   = preambleSize + v1FieldsSize + crcSize
	streamOverhead = headerSizeV1 + 1 + trailerSize // header, end marker, trailer
)

// Compression says how the payload is encoded inside the stream.
type Compression uint8

const (
	// None stores the payload as written. It is the default: on
	// configuration-sized state it is several times faster to write and
	// verify than Flate, and neither disk nor network is the bottleneck.
	None Compression = 0
	// Flate compresses the payload with compress/flate at BestSpeed. On
	// JSON-like configuration it shrinks snapshots several-fold at a cost
	// in CPU; worth it when snapshots are large or cross slow links.
	Flate Compression = 1
)

// String returns "none", "flate", or "Compression(n)" for unknown values.
func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Flate:
		return "flate"
	default:
		return fmt.Sprintf("Compression(%d)", uint8(c))
	}
}

func (c Compression) valid() bool { return c == None || c == Flate }

// Header describes the state a snapshot stream holds. It is written, with
// its own checksum, before the payload.
type Header struct {
	// Index and Term are those of the last log entry the snapshot's state
	// includes.
	Index, Term uint64
	// Compression is how the payload is encoded in the stream; readers
	// decode it transparently.
	Compression Compression
	// CreatedUnixNano is when the snapshot was taken, in nanoseconds since
	// the Unix epoch; 0 means unknown. It is informational only.
	CreatedUnixNano int64
}

// Created returns CreatedUnixNano as a time.Time, or the zero Time when it
// is 0.
func (h Header) Created() time.Time {
	if h.CreatedUnixNano == 0 {
		return time.Time{}
	}
	return time.Unix(0, h.CreatedUnixNano)
}

// String names the header fields, for logs and debugging.
func (h Header) String() string {
	return fmt.Sprintf("snapshot{index=%d term=%d compression=%v created=%d}", h.Index, h.Term, h.Compression, h.CreatedUnixNano)
}

// appendStreamHeader appends the encoded version-1 header of h to b.
func appendStreamHeader(b []byte, h Header) []byte {
	start := len(b)
	b = append(b, streamMagic[:]...)
	b = binary.BigEndian.AppendUint16(b, FormatVersion)
	b = binary.BigEndian.AppendUint16(b, v1FieldsSize)
	b = append(b, byte(h.Compression))
	b = binary.BigEndian.AppendUint64(b, h.Index)
	b = binary.BigEndian.AppendUint64(b, h.Term)
	b = binary.BigEndian.AppendUint64(b, uint64(h.CreatedUnixNano))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// appendStreamTrailer appends the end marker and trailer to b.
func appendStreamTrailer(b []byte, payloadLen uint64, payloadCRC uint32) []byte {
	b = append(b, chunkTagEnd)
	b = binary.BigEndian.AppendUint64(b, payloadLen)
	return binary.BigEndian.AppendUint32(b, payloadCRC)
}

// readStreamHeader reads and checks the header at the start of src.
func readStreamHeader(src *source) (Header, error) {
	var pre [preambleSize]byte
	if err := src.readMagic(pre[:len(streamMagic)], streamMagic[:], ErrNotSnapshot, "snapshot stream"); err != nil {
		return Header{}, err
	}
	if err := src.readFull(pre[len(streamMagic):], "header"); err != nil {
		return Header{}, err
	}
	version := binary.BigEndian.Uint16(pre[8:])
	fieldsLen := int(binary.BigEndian.Uint16(pre[10:]))
	if fieldsLen > maxFieldsSize {
		return Header{}, formatErr(ErrCorrupt, 10, "header length %d exceeds %d", fieldsLen, maxFieldsSize)
	}
	rest := make([]byte, fieldsLen+crcSize) // bounded by maxFieldsSize above
	if err := src.readFull(rest, "header"); err != nil {
		return Header{}, err
	}
	crc := crc32.Update(crc32.Checksum(pre[:], castagnoli), castagnoli, rest[:fieldsLen])
	if stored := binary.BigEndian.Uint32(rest[fieldsLen:]); stored != crc {
		return Header{}, formatErr(ErrCorrupt, int64(preambleSize+fieldsLen),
			"header checksum mismatch (stored %08x, computed %08x)", stored, crc)
	}
	if version != FormatVersion {
		return Header{}, formatErr(ErrUnsupportedVersion, 8, "format version %d, this reader supports %d", version, FormatVersion)
	}
	if fieldsLen != v1FieldsSize {
		return Header{}, formatErr(ErrCorrupt, 10, "version %d header length is %d, want %d", version, fieldsLen, v1FieldsSize)
	}
	h := Header{
		Compression:     Compression(rest[0]),
		Index:           binary.BigEndian.Uint64(rest[1:]),
		Term:            binary.BigEndian.Uint64(rest[9:]),
		CreatedUnixNano: int64(binary.BigEndian.Uint64(rest[17:])),
	}
	if !h.Compression.valid() {
		return Header{}, formatErr(ErrUnsupportedVersion, preambleSize, "unknown compression %d", uint8(h.Compression))
	}
	return h, nil
}
