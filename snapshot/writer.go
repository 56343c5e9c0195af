package snapshot

import (
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Writer encodes one snapshot stream: NewWriter writes the header, Write
// takes the payload, Close ends the payload and writes the trailer. The
// payload goes out in chunks of at most MaxChunkSize bytes, so a Writer
// holds at most one chunk (plus the compressor's window) in memory whatever
// the snapshot size. A Writer is not safe for concurrent use.
type Writer struct {
	dst    io.Writer
	chunks *chunkWriter
	flate  *flate.Writer // nil unless Compression is Flate
	n      uint64        // payload bytes accepted
	crc    uint32        // CRC-32C of those bytes
	err    error         // sticky: first failure, or ErrClosed after Close
	closed bool
}

// NewWriter writes the header h to w at once and returns a Writer for the
// payload. It blocks only in w.Write. It returns an error wrapping
// ErrInvalidHeader, and writes nothing, when h.Compression is unknown; an
// error from w is returned wrapped, and the Writer is then nil.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	if !h.Compression.valid() {
		return nil, fmt.Errorf("%w: unknown compression %d", ErrInvalidHeader, uint8(h.Compression))
	}
	if _, err := w.Write(appendStreamHeader(make([]byte, 0, headerSizeV1), h)); err != nil {
		return nil, fmt.Errorf("snapshot: writing header: %w", err)
	}
	sw := &Writer{dst: w, chunks: newChunkWriter(w)}
	if h.Compression == Flate {
		fw, err := flate.NewWriter(sw.chunks, flate.BestSpeed)
		if err != nil { // only for an invalid level, which BestSpeed is not
			return nil, fmt.Errorf("snapshot: creating compressor: %w", err)
		}
		sw.flate = fw
	}
	return sw, nil
}

// Write adds p to the payload. It reports len(p) and nil, or an error: the
// underlying writer's (wrapped), or ErrClosed after Close. After the first
// error every later Write and Close returns it and the stream is unusable
// (a reader will refuse it as truncated).
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	var err error
	if w.flate != nil {
		_, err = w.flate.Write(p)
	} else {
		_, err = w.chunks.Write(p)
	}
	if err != nil {
		w.err = err
		return 0, err
	}
	w.n += uint64(len(p))
	w.crc = crc32.Update(w.crc, castagnoli, p)
	return len(p), nil
}

// Close flushes the compressor and any partial chunk, then writes the end
// marker and the trailer (payload length and CRC-32C). It does not close
// the underlying writer. Calling Close again returns the first Close's
// result; Close after a failed Write returns that failure.
func (w *Writer) Close() error {
	if w.closed {
		if w.err == ErrClosed {
			return nil
		}
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if w.flate != nil {
		if err := w.flate.Close(); err != nil {
			w.err = err
			return err
		}
	}
	if err := w.chunks.flush(); err != nil {
		w.err = err
		return err
	}
	if _, err := w.dst.Write(appendStreamTrailer(make([]byte, 0, 1+trailerSize), w.n, w.crc)); err != nil {
		w.err = fmt.Errorf("snapshot: writing trailer: %w", err)
		return w.err
	}
	w.err = ErrClosed
	return nil
}

// chunkWriter frames what is written to it into 'D' chunks of at most
// MaxChunkSize bytes, each sent to dst in a single Write.
type chunkWriter struct {
	dst io.Writer
	buf []byte // chunk header space followed by up to MaxChunkSize bytes
}

func newChunkWriter(dst io.Writer) *chunkWriter {
	return &chunkWriter{dst: dst, buf: make([]byte, chunkHdrSize, chunkHdrSize+MaxChunkSize)}
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := copy(c.buf[len(c.buf):cap(c.buf)], p)
		c.buf = c.buf[:len(c.buf)+n]
		p = p[n:]
		written += n
		if len(c.buf) == cap(c.buf) {
			if err := c.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// flush writes the buffered bytes as one chunk; it writes nothing when the
// buffer is empty, so a stream never holds an empty chunk.
func (c *chunkWriter) flush() error {
	size := len(c.buf) - chunkHdrSize
	if size == 0 {
		return nil
	}
	c.buf[0] = chunkTagData
	binary.BigEndian.PutUint32(c.buf[1:], uint32(size))
	_, err := c.dst.Write(c.buf)
	c.buf = c.buf[:chunkHdrSize]
	if err != nil {
		return fmt.Errorf("snapshot: writing payload: %w", err)
	}
	return nil
}
