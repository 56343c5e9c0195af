package snapshot

import (
	"compress/flate"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// streamReader decodes one snapshot stream for Verify. newStreamReader
// checks the header; Read returns the payload (decompressed) and, at its
// end, checks the trailer: it returns io.EOF only when the end marker, the
// payload length and the payload checksum all match and nothing follows
// the trailer. Otherwise the last Read returns an error wrapping
// ErrCorrupt or ErrTruncated. Bytes returned before that final check are
// not yet verified, which is why it is not exported: Verify reads it to
// the end before handing anything on. It buffers its input and may read
// past the snapshot's end; it reads to the end of input to make sure
// nothing follows the trailer. It is not safe for concurrent use.
type streamReader struct {
	hdr     Header
	src     *source
	frames  *chunkReader
	payload io.Reader // frames, or a flate reader over frames
	n       uint64
	crc     uint32
	err     error // sticky: io.EOF after a verified end, or the failure
}

// newStreamReader reads and checks the stream header from r. It blocks
// until the header has been read. Errors wrap ErrNotSnapshot (empty input, wrong
// magic), ErrUnsupportedVersion (an intact header of another format version
// or an unknown compression), ErrCorrupt (header checksum mismatch) or
// ErrTruncated (input ends inside the header); a failure of r is returned
// wrapped.
func newStreamReader(r io.Reader) (*streamReader, error) {
	src := newSource(r)
	h, err := readStreamHeader(src)
	if err != nil {
		return nil, err
	}
	rd := &streamReader{hdr: h, src: src, frames: &chunkReader{src: src}}
	rd.payload = rd.frames
	if h.Compression == Flate {
		rd.payload = flate.NewReader(rd.frames)
	}
	return rd, nil
}

// Header returns the stream's header as read by newStreamReader.
func (r *streamReader) Header() Header { return r.hdr }

// Read reads payload bytes into p. It blocks until some bytes are available
// from the input. At the end of the payload it verifies the trailer and
// returns io.EOF only if everything matched; otherwise it returns an error
// wrapping ErrCorrupt or ErrTruncated (or a wrapped input failure). Once an
// error or io.EOF has been returned, every later Read returns it again.
func (r *streamReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.payload.Read(p)
	r.n += uint64(n)
	r.crc = crc32.Update(r.crc, castagnoli, p[:n])
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		err = r.finish()
		if err == nil {
			err = io.EOF
		}
	default:
		err = r.classify(err)
	}
	r.err = err
	return n, err
}

// finish runs once the payload reader reports its end: it checks that the
// compressed data ended exactly at the end marker, that the trailer matches
// what was read, and that nothing follows.
func (r *streamReader) finish() error {
	if r.hdr.Compression == Flate {
		if _, err := r.frames.ReadByte(); err != io.EOF {
			if err == nil {
				return formatErr(ErrCorrupt, r.src.off, "data after the end of the compressed payload")
			}
			return err
		}
	}
	f := r.frames
	if f.trailerLen != r.n {
		return formatErr(ErrCorrupt, f.trailerOff, "payload length is %d, trailer says %d", r.n, f.trailerLen)
	}
	if f.trailerCRC != r.crc {
		return formatErr(ErrCorrupt, f.trailerOff+8, "payload checksum mismatch (stored %08x, computed %08x)", f.trailerCRC, r.crc)
	}
	return r.src.expectEnd()
}

// classify maps an error from the payload reader to this package's errors.
func (r *streamReader) classify(err error) error {
	var ce flate.CorruptInputError
	switch {
	case errorsIsFormat(err):
		return err
	case err == io.ErrUnexpectedEOF:
		// Only the decompressor produces this, when the chunks end (at a
		// well-formed end marker) before the compressed stream does.
		return formatErr(ErrCorrupt, r.src.off, "compressed payload ends before its end of stream")
	case errors.As(err, &ce):
		return formatErr(ErrCorrupt, r.src.off, "compressed payload is damaged: %v", err)
	default:
		var ie flate.InternalError
		if errors.As(err, &ie) {
			return formatErr(ErrCorrupt, r.src.off, "decompressing payload: %v", err)
		}
		return err // already wrapped by source
	}
}

// chunkReader reads the payload bytes out of the chunk framing. It returns
// io.EOF after it has read the end marker and the trailer, and ErrTruncated
// if the input ends anywhere before that. It implements io.ByteReader so
// that compress/flate reads exactly the compressed bytes and no further.
type chunkReader struct {
	src        *source
	remain     int // bytes left in the current data chunk
	done       bool
	trailerLen uint64
	trailerCRC uint32
	trailerOff int64
}

// Without ReadByte, compress/flate would wrap chunkReader in a bufio.Reader
// that reads ahead, and the check for data after the compressed payload
// would miss bytes.
var _ flate.Reader = (*chunkReader)(nil)

func (c *chunkReader) Read(p []byte) (int, error) {
	if err := c.fill(); err != nil {
		return 0, err
	}
	if len(p) > c.remain {
		p = p[:c.remain]
	}
	n, err := c.src.Read(p)
	c.remain -= n
	if err == io.EOF {
		err = nil
		if n == 0 {
			err = formatErr(ErrTruncated, c.src.off, "input ends inside a payload chunk")
		}
	}
	return n, err
}

func (c *chunkReader) ReadByte() (byte, error) {
	if err := c.fill(); err != nil {
		return 0, err
	}
	b, err := c.src.br.ReadByte()
	if err != nil {
		if isEndOfInput(err) {
			return 0, formatErr(ErrTruncated, c.src.off, "input ends inside a payload chunk")
		}
		return 0, c.src.ioErr(err)
	}
	c.src.off++
	c.remain--
	return b, nil
}

// fill makes sure the current chunk has bytes left, reading chunk headers
// as needed; it returns io.EOF once the end marker and trailer are read.
func (c *chunkReader) fill() error {
	for c.remain == 0 {
		if c.done {
			return io.EOF
		}
		var tag [1]byte
		tagOff := c.src.off
		if err := c.src.readFull(tag[:], "payload, before its end marker"); err != nil {
			return err
		}
		switch tag[0] {
		case chunkTagData:
			var size [4]byte
			if err := c.src.readFull(size[:], "chunk header"); err != nil {
				return err
			}
			n := binary.BigEndian.Uint32(size[:])
			if n == 0 || n > MaxChunkSize {
				return formatErr(ErrCorrupt, tagOff+1, "chunk length %d outside 1..%d", n, MaxChunkSize)
			}
			c.remain = int(n)
		case chunkTagEnd:
			var t [trailerSize]byte
			c.trailerOff = c.src.off
			if err := c.src.readFull(t[:], "trailer"); err != nil {
				return err
			}
			c.trailerLen = binary.BigEndian.Uint64(t[:])
			c.trailerCRC = binary.BigEndian.Uint32(t[8:])
			c.done = true
		default:
			return formatErr(ErrCorrupt, tagOff, "unknown chunk tag %#02x", tag[0])
		}
	}
	return nil
}
