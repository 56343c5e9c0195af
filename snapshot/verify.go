package snapshot

import (
	"fmt"
	"io"
	"os"
)

// copyBufferSize is the one buffer Verify and ReadBackup copy through.
const copyBufferSize = 32 << 10

// Verify reads the whole snapshot stream from src, checks its header,
// chunk framing, payload length and payload checksum, and only then returns
// the header and a reader of the verified, decompressed payload. The payload
// is spooled to a temporary file in dir (the system temporary directory when
// dir is ""), so memory use stays at a few fixed buffers whatever the
// snapshot size; the file is removed when the returned reader is closed (on
// Unix-like systems it is unlinked at once and only the open descriptor
// keeps it, so a crash leaves nothing behind either).
//
// Verify blocks until src is exhausted or fails. On any error it returns a
// nil reader and leaves nothing in dir. Errors wrap ErrNotSnapshot (empty
// input, wrong magic), ErrUnsupportedVersion (an intact header of another
// format version or an unknown compression), ErrCorrupt or ErrTruncated,
// or are a wrapped failure of src or of the temporary file.
func Verify(src io.Reader, dir string) (Header, io.ReadCloser, error) {
	return VerifyLimited(src, dir, -1)
}

// VerifyLimited is Verify that refuses a payload of more than maxPayload
// bytes (after decompression) with an error wrapping ErrTooLarge, having
// written at most maxPayload bytes to dir and removed them: a compressed
// stream that expands without bound (a decompression bomb) cannot fill the
// disk. A negative maxPayload means no limit.
func VerifyLimited(src io.Reader, dir string, maxPayload int64) (Header, io.ReadCloser, error) {
	r, err := newStreamReader(src)
	if err != nil {
		return Header{}, nil, err
	}
	var payload io.Reader = r
	if maxPayload >= 0 {
		payload = &payloadLimit{r: r, remain: maxPayload, max: maxPayload, compression: r.Header().Compression}
	}
	spool, err := spoolTo(dir, "raftkit-snapshot-verify-*", payload)
	if err != nil {
		return Header{}, nil, err
	}
	return r.Header(), spool, nil
}

// payloadLimit passes at most max bytes of r through, and fails the read
// that would go past them.
type payloadLimit struct {
	r           io.Reader
	remain, max int64
	compression Compression
}

func (l *payloadLimit) Read(p []byte) (int, error) {
	// Ask for one byte more than allowed, so a payload of exactly max
	// bytes still reaches its verified end.
	if int64(len(p)) > l.remain+1 {
		p = p[:l.remain+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.remain {
		return 0, fmt.Errorf("%w: the %v payload exceeds the limit of %d bytes", ErrTooLarge, l.compression, l.max)
	}
	l.remain -= int64(n)
	return n, err
}

// spooledFile is a verified payload in a temporary file, read from the
// start and removed on Close.
type spooledFile struct {
	f       *os.File
	removed bool // the name was already unlinked
	closed  bool
}

// spoolTo copies r into a new temporary file in dir and rewinds it. r must
// return io.EOF only when its content has been verified. On error the file
// is closed and removed.
func spoolTo(dir, pattern string, r io.Reader) (*spooledFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("snapshot: creating spool file: %w", err)
	}
	s := &spooledFile{f: f}
	// Unlink at once where the OS allows it (not on Windows while open):
	// the descriptor keeps the data, and no crash can leave the file behind.
	if os.Remove(f.Name()) == nil {
		s.removed = true
	}
	if err := copyVerified(f, r); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.Close()
		return nil, fmt.Errorf("snapshot: rewinding spool file: %w", err)
	}
	return s, nil
}

// Read reads the verified bytes.
func (s *spooledFile) Read(p []byte) (int, error) { return s.f.Read(p) }

// Close closes and removes the temporary file. It is idempotent.
func (s *spooledFile) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	if !s.removed {
		if rerr := os.Remove(s.f.Name()); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// copyVerified copies r to f through one fixed buffer until r returns
// io.EOF. Errors from r are returned as they are (they already say what
// went wrong); errors writing f are wrapped with the file's name.
func copyVerified(f *os.File, r io.Reader) error {
	buf := make([]byte, copyBufferSize)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				return fmt.Errorf("snapshot: writing spool file %s: %w", f.Name(), werr)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
