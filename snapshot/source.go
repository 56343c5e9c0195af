package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// readBufferSize is the buffer between the input and the format parsers.
const readBufferSize = 32 << 10

// source is the input of a stream or backup parser: a buffered reader that
// counts the bytes consumed, so errors can say where they were detected, and
// that turns an early end of input into ErrTruncated and any other failure
// into a wrapped I/O error.
type source struct {
	br  *bufio.Reader
	off int64
}

func newSource(r io.Reader) *source {
	return &source{br: bufio.NewReaderSize(r, readBufferSize)}
}

// isEndOfInput reports whether err means the input has no more bytes.
func isEndOfInput(err error) bool {
	return err == io.EOF || err == io.ErrUnexpectedEOF
}

func (s *source) ioErr(err error) error {
	return fmt.Errorf("snapshot: reading input at byte %d: %w", s.off, err)
}

// Read reads up to len(p) bytes. At the end of input it returns io.EOF
// unchanged, so callers decide whether that end is allowed there.
func (s *source) Read(p []byte) (int, error) {
	n, err := s.br.Read(p)
	s.off += int64(n)
	if err != nil && !isEndOfInput(err) {
		return n, s.ioErr(err)
	}
	if err != nil {
		err = io.EOF
	}
	return n, err
}

// readFull fills p; an end of input is reported as ErrTruncated inside what.
func (s *source) readFull(p []byte, what string) error {
	n, err := io.ReadFull(s.br, p)
	s.off += int64(n)
	if err == nil {
		return nil
	}
	if isEndOfInput(err) {
		return formatErr(ErrTruncated, s.off, "input ends inside the %s", what)
	}
	return s.ioErr(err)
}

// readMagic reads len(magic) bytes into buf and checks them. An empty input
// or a mismatch is notKind; a prefix of the magic followed by the end of
// input is ErrTruncated.
func (s *source) readMagic(buf, magic []byte, notKind error, what string) error {
	n, err := io.ReadFull(s.br, buf)
	s.off += int64(n)
	if err != nil && !isEndOfInput(err) {
		return s.ioErr(err)
	}
	if n == 0 {
		return formatErr(notKind, 0, "empty input")
	}
	if !bytes.Equal(buf[:n], magic[:n]) {
		return formatErr(notKind, 0, "input does not start with the %s magic", what)
	}
	if n < len(magic) {
		return formatErr(ErrTruncated, s.off, "input ends inside the magic")
	}
	return nil
}

// expectEnd checks that the input has no bytes left.
func (s *source) expectEnd() error {
	_, err := s.br.ReadByte()
	switch {
	case err == nil:
		return formatErr(ErrCorrupt, s.off, "unexpected data after the trailer")
	case isEndOfInput(err):
		return nil
	default:
		return s.ioErr(err)
	}
}

// errorsIsFormat reports whether err is already a *FormatError.
func errorsIsFormat(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe)
}
