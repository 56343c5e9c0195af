package snapshot

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestRoundTrip(t *testing.T) {
	sizes := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"one chunk", MaxChunkSize},
		{"one chunk plus one", MaxChunkSize + 1},
		{"many chunks", 7*MaxChunkSize + 123},
		{"20MB", 20 << 20},
	}
	for _, c := range []Compression{None, Flate} {
		for _, sz := range sizes {
			t.Run(c.String()+"/"+sz.name, func(t *testing.T) {
				if sz.size > 1<<20 && testing.Short() {
					t.Skip("large round trip skipped in -short")
				}
				if sz.size > 4<<20 && c == Flate && raceEnabled {
					t.Skip("20 MB through compress/flate is too slow under the race detector; plain builds run it")
				}
				h := Header{Index: 42, Term: 7, Compression: c, CreatedUnixNano: 1_700_000_000_123_456_789}
				want := sha256.New()
				payload := io.TeeReader(io.LimitReader(newRouteGen(uint64(sz.size)), int64(sz.size)), want)

				dir := t.TempDir()
				got, rc, err := Verify(pipeStream(t, h, payload), dir)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got != h {
					t.Errorf("header = %v, want %v", got, h)
				}
				sum := sha256.New()
				n, err := io.Copy(sum, rc)
				if err != nil {
					t.Fatalf("reading verified payload: %v", err)
				}
				if n != int64(sz.size) || !bytes.Equal(sum.Sum(nil), want.Sum(nil)) {
					t.Errorf("verified payload differs: got %d bytes, want %d", n, sz.size)
				}
				if err := rc.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if names := dirEntries(t, dir); len(names) != 0 {
					t.Errorf("dir holds %v after Close, want nothing", names)
				}
			})
		}
	}
}

func TestReaderStreamsPayload(t *testing.T) {
	payload := routeConfig(1, 3*MaxChunkSize+17)
	for _, c := range []Compression{None, Flate} {
		t.Run(c.String(), func(t *testing.T) {
			stream := encodeStream(t, Header{Index: 9, Term: 2, Compression: c}, payload)
			r, err := newStreamReader(bytes.NewReader(stream))
			if err != nil {
				t.Fatalf("newStreamReader: %v", err)
			}
			if h := r.Header(); h.Index != 9 || h.Term != 2 || h.Compression != c {
				t.Errorf("Header() = %v", h)
			}
			// One byte at a time exercises every boundary of the framing.
			got, err := io.ReadAll(iotest.OneByteReader(r))
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("payload differs: got %d bytes, want %d", len(got), len(payload))
			}
			if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Errorf("Read after end = %d, %v; want 0, io.EOF", n, err)
			}
		})
	}
}

func TestFlateShrinksRouteConfig(t *testing.T) {
	payload := routeConfig(2, 1<<20)
	plain := encodeStream(t, Header{Compression: None}, payload)
	packed := encodeStream(t, Header{Compression: Flate}, payload)
	if len(plain) != len(payload)+streamOverhead+chunkHdrSize*16 {
		t.Errorf("uncompressed stream is %d bytes for a %d-byte payload", len(plain), len(payload))
	}
	if len(packed)*3 > len(plain) {
		t.Errorf("flate stream is %d bytes, not under a third of %d", len(packed), len(plain))
	}
}

func TestWriterSplitsIntoBoundedChunks(t *testing.T) {
	stream := encodeStream(t, Header{}, routeConfig(3, 2*MaxChunkSize+5))
	off := headerSizeV1
	var sizes []int
	for stream[off] == chunkTagData {
		n := int(stream[off+1])<<24 | int(stream[off+2])<<16 | int(stream[off+3])<<8 | int(stream[off+4])
		sizes = append(sizes, n)
		off += chunkHdrSize + n
	}
	if want := []int{MaxChunkSize, MaxChunkSize, 5}; !equalInts(sizes, want) {
		t.Errorf("chunk sizes %v, want %v", sizes, want)
	}
	if stream[off] != chunkTagEnd || len(stream) != off+1+trailerSize {
		t.Errorf("stream does not end with the end marker and a %d-byte trailer", trailerSize)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWriterLifecycle(t *testing.T) {
	t.Run("unknown compression writes nothing", func(t *testing.T) {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, Header{Compression: 9})
		if !errors.Is(err, ErrInvalidHeader) || w != nil {
			t.Fatalf("NewWriter = %v, %v; want nil, ErrInvalidHeader", w, err)
		}
		if buf.Len() != 0 {
			t.Errorf("wrote %d bytes", buf.Len())
		}
	})
	t.Run("header written at once", func(t *testing.T) {
		var buf bytes.Buffer
		if _, err := NewWriter(&buf, Header{Index: 1}); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != headerSizeV1 {
			t.Errorf("NewWriter wrote %d bytes, want the %d-byte header", buf.Len(), headerSizeV1)
		}
	})
	t.Run("write after close", func(t *testing.T) {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, Header{})
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close = %v, want ErrClosed", err)
		}
		_, rc, err := Verify(bytes.NewReader(buf.Bytes()), t.TempDir())
		if err != nil {
			t.Fatalf("stream of a closed empty writer does not verify: %v", err)
		}
		rc.Close()
	})
	t.Run("underlying failure is sticky", func(t *testing.T) {
		boom := errors.New("disk full")
		fw := &failingWriter{after: headerSizeV1, err: boom}
		w, err := NewWriter(fw, Header{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, MaxChunkSize+1)); !errors.Is(err, boom) {
			t.Fatalf("Write = %v, want %v", err, boom)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, boom) {
			t.Errorf("later Write = %v, want %v", err, boom)
		}
		if err := w.Close(); !errors.Is(err, boom) {
			t.Errorf("Close = %v, want %v", err, boom)
		}
	})
	t.Run("header write failure", func(t *testing.T) {
		boom := errors.New("broken pipe")
		if w, err := NewWriter(&failingWriter{err: boom}, Header{}); !errors.Is(err, boom) || w != nil {
			t.Errorf("NewWriter = %v, %v; want nil, %v", w, err, boom)
		}
	})
}

// failingWriter accepts after bytes, then fails every write with err.
type failingWriter struct {
	after int
	err   error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.after {
		n := f.after
		f.after = 0
		return n, f.err
	}
	f.after -= len(p)
	return len(p), nil
}
