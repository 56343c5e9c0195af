package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ErrFrameTooLarge is returned (wrapped) by ReadFrame when a frame's length
// announces a body larger than the reader's limit, and by WriteFrame when a
// body cannot be described by the 32-bit length field.
var ErrFrameTooLarge = errors.New("wire: frame too large")

// ErrMalformed is returned (wrapped) for input that breaks the encoding
// rules: a frame length below the header size, a message body that is
// truncated, over-long, not in canonical form or carries an unknown enum
// value, a frame whose Type is not the one expected. Encoding a message
// whose fields cannot be represented validly (an unknown Code, say) fails
// with it too.
var ErrMalformed = errors.New("wire: malformed")

const (
	// lengthSize is the size of the length prefix.
	lengthSize = 4
	// headerAfterLength is the part of the header counted by the length:
	// one type byte and an 8-byte request ID.
	headerAfterLength = 1 + 8
	// HeaderSize is the size of a frame's header: length, type and ID.
	HeaderSize = lengthSize + headerAfterLength
	// MaxBodySize is the largest body a frame can carry: the 32-bit length
	// counts the type and ID bytes as well.
	MaxBodySize = math.MaxUint32 - headerAfterLength
	// smallWrite is the body size up to which WriteFrame copies the header
	// and body into one buffer and makes a single Write.
	smallWrite = 64 << 10
	// readChunk is how much ReadFrame allocates up front for a body; larger
	// bodies grow as their bytes actually arrive.
	readChunk = 64 << 10
)

// Frame is one unit on an RPC connection: a message Type, the request ID
// that pairs a response with its request, and the encoded message.
type Frame struct {
	Type Type
	ID   uint64
	Body []byte
}

// Header is the part of a frame that precedes its body.
type Header struct {
	Type    Type
	ID      uint64
	BodyLen int // checked against the reader's limit
}

// ReadFrame reads one frame from r. It blocks until a whole frame has been
// read or r fails. It is ReadHeader followed by ReadBody.
//
// The length is checked before anything is allocated: a body larger than
// maxBody (a negative maxBody counts as zero) gives an error wrapping
// ErrFrameTooLarge, and a length below the 9 bytes of type and ID gives one
// wrapping ErrMalformed; in both cases nothing after the length has been
// consumed and the stream cannot be resynchronised. A body is allocated in
// steps as its bytes arrive, so a peer that announces a large frame and
// stalls costs the reader no more memory than it has sent.
//
// At a clean end of stream before the first byte ReadFrame returns io.EOF;
// a stream that ends inside a frame gives io.ErrUnexpectedEOF. Other errors
// come from r unchanged.
func ReadFrame(r *bufio.Reader, maxBody int) (Frame, error) {
	h, err := ReadHeader(r, maxBody)
	if err != nil {
		return Frame{}, err
	}
	return ReadBody(r, h)
}

// ReadHeader reads a frame's header, with the checks and errors of
// ReadFrame, and allocates nothing. A reader that must budget memory
// before it commits to a body reads the header, reserves h.BodyLen bytes,
// then calls ReadBody.
func ReadHeader(r *bufio.Reader, maxBody int) (Header, error) {
	// Peek rather than read into an array: an array handed to an
	// io.Reader escapes, and the header would cost an allocation.
	b, err := r.Peek(lengthSize)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return Header{}, err
	}
	length := binary.BigEndian.Uint32(b)
	r.Discard(lengthSize)
	if length < headerAfterLength {
		return Header{}, fmt.Errorf("%w: frame length %d is below the %d-byte minimum", ErrMalformed, length, headerAfterLength)
	}
	bodyLen := uint64(length) - headerAfterLength
	if maxBody < 0 {
		maxBody = 0
	}
	if bodyLen > uint64(maxBody) {
		return Header{}, fmt.Errorf("%w: body of %d bytes exceeds the limit of %d", ErrFrameTooLarge, bodyLen, maxBody)
	}
	if b, err = r.Peek(headerAfterLength); err != nil {
		return Header{}, unexpectedEOF(err)
	}
	h := Header{
		Type:    Type(b[0]),
		ID:      binary.BigEndian.Uint64(b[1:]),
		BodyLen: int(bodyLen),
	}
	r.Discard(headerAfterLength)
	return h, nil
}

// ReadBody reads the body of the frame whose header is h, growing its
// buffer as bytes arrive. A stream that ends inside it gives
// io.ErrUnexpectedEOF.
func ReadBody(r *bufio.Reader, h Header) (Frame, error) {
	body, err := readBody(r, h.BodyLen)
	if err != nil {
		return Frame{}, err
	}
	return Frame{Type: h.Type, ID: h.ID, Body: body}, nil
}

// readBody reads exactly n bytes, growing its buffer as data arrives.
func readBody(r io.Reader, n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, min(n, readChunk))
	read := 0
	for {
		m, err := io.ReadFull(r, buf[read:])
		read += m
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if read == n {
			return buf, nil
		}
		grown := make([]byte, min(n, 2*len(buf)))
		copy(grown, buf)
		buf = grown
	}
}

// unexpectedEOF reports an end of stream inside a frame as
// io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// checkBodySize reports whether a body of n bytes fits the length field.
func checkBodySize(n int) error {
	if uint64(n) > MaxBodySize {
		return fmt.Errorf("%w: body of %d bytes exceeds the frame format's limit of %d", ErrFrameTooLarge, n, uint64(MaxBodySize))
	}
	return nil
}

// WriteFrame writes f to w. Frames with bodies up to 64 KiB go out in a
// single Write call; larger ones in two (header, then body). It blocks until
// w has accepted every byte or failed, and returns w's error. A body longer
// than MaxBodySize gives an error wrapping ErrFrameTooLarge and writes
// nothing. WriteFrame does not serialise concurrent writers: callers sharing
// w must. A connection that writes many frames uses a Writer instead.
func WriteFrame(w io.Writer, f Frame) error {
	fw := Writer{W: w}
	return fw.WriteFrame(f)
}

// Writer writes frames to W as WriteFrame does, assembling each in a
// buffer it keeps for the next frame, so that once the buffer has grown a
// frame of up to 4 KiB costs no allocation. A Writer is not safe for
// concurrent use: callers sharing one serialise their calls.
type Writer struct {
	W   io.Writer
	buf []byte
}

// keepBuffer is the largest buffer a Writer keeps between frames.
const keepBuffer = 4<<10 + HeaderSize

// WriteFrame writes f as the package function WriteFrame does.
func (w *Writer) WriteFrame(f Frame) error {
	if err := checkBodySize(len(f.Body)); err != nil {
		return err
	}
	buf := binary.BigEndian.AppendUint32(w.buf[:0], uint32(headerAfterLength+len(f.Body)))
	buf = append(buf, byte(f.Type))
	buf = binary.BigEndian.AppendUint64(buf, f.ID)
	var err error
	if len(f.Body) <= smallWrite {
		buf = append(buf, f.Body...)
		_, err = w.W.Write(buf)
	} else if _, err = w.W.Write(buf); err == nil {
		_, err = w.W.Write(f.Body)
	}
	if cap(buf) <= keepBuffer {
		w.buf = buf
	} else {
		w.buf = nil
	}
	return err
}
