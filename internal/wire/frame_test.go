package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime"
	"testing"
)

func newReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// header returns a frame header announcing a body of n bytes.
func header(length uint32, typ Type, id uint64) []byte {
	b := binary.BigEndian.AppendUint32(nil, length)
	b = append(b, byte(typ))
	return binary.BigEndian.AppendUint64(b, id)
}

func TestFrameRoundTrip(t *testing.T) {
	sizes := []int{0, 1, smallWrite, smallWrite + 1, 3*readChunk + 17}
	for _, n := range sizes {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i * 7)
		}
		want := Frame{Type: TypeApplyRequest, ID: math.MaxUint64 - uint64(n), Body: body}
		var buf bytes.Buffer
		if err := WriteFrame(&buf, want); err != nil {
			t.Fatalf("size %d: WriteFrame: %v", n, err)
		}
		if buf.Len() != HeaderSize+n {
			t.Fatalf("size %d: wrote %d bytes, want %d", n, buf.Len(), HeaderSize+n)
		}
		got, err := ReadFrame(newReader(buf.Bytes()), n)
		if err != nil {
			t.Fatalf("size %d: ReadFrame: %v", n, err)
		}
		if got.Type != want.Type || got.ID != want.ID || !bytes.Equal(got.Body, want.Body) {
			t.Fatalf("size %d: read back a different frame", n)
		}
	}
}

// writeCounter counts Write calls.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) { w.writes++; return w.Buffer.Write(p) }

func TestWriteFrameSmallFramesTakeOneWrite(t *testing.T) {
	for _, tt := range []struct{ size, writes int }{{0, 1}, {100, 1}, {smallWrite, 1}, {smallWrite + 1, 2}} {
		var w writeCounter
		if err := WriteFrame(&w, Frame{Type: TypeError, Body: make([]byte, tt.size)}); err != nil {
			t.Fatal(err)
		}
		if w.writes != tt.writes {
			t.Errorf("body of %d bytes took %d writes, want %d", tt.size, w.writes, tt.writes)
		}
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		maxBody int
		want    error
	}{
		{"clean end of stream", nil, 10, io.EOF},
		{"end inside the length", []byte{0, 0}, 10, io.ErrUnexpectedEOF},
		{"end inside type and id", header(9, 1, 1)[:8], 10, io.ErrUnexpectedEOF},
		{"end inside the body", append(header(9+5, 1, 1), 1, 2), 10, io.ErrUnexpectedEOF},
		{"length zero", header(0, 1, 1), 10, ErrMalformed},
		{"length below the header", header(8, 1, 1), 10, ErrMalformed},
		{"body over the limit", header(9+11, 1, 1), 10, ErrFrameTooLarge},
		{"maximum length", header(math.MaxUint32, 1, 1), math.MaxInt32, ErrFrameTooLarge},
		{"negative limit counts as zero", header(9+1, 1, 1), -5, ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(newReader(tt.input), tt.maxBody)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadFrame error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadFrameAcceptsBodyAtTheLimit(t *testing.T) {
	in := append(header(9+10, TypeError, 3), make([]byte, 10)...)
	f, err := ReadFrame(newReader(in), 10)
	if err != nil || len(f.Body) != 10 || f.ID != 3 {
		t.Fatalf("ReadFrame = %+v, %v; want a 10-byte body", f, err)
	}
	f, err = ReadFrame(newReader(header(9, TypeStatusRequest, 0)), 0)
	if err != nil || f.Body != nil || f.Type != TypeStatusRequest {
		t.Fatalf("empty body with limit 0: %+v, %v", f, err)
	}
}

func TestReadFrameRejectsBeforeReadingFurther(t *testing.T) {
	// After a too-large length, nothing past the length may be consumed.
	in := append(header(9+1000, TypeApplyRequest, 1), []byte("rest")...)
	r := newReader(in)
	if _, err := ReadFrame(r, 999); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("error = %v, want ErrFrameTooLarge", err)
	}
	rest, _ := io.ReadAll(r)
	if len(rest) != len(in)-lengthSize {
		t.Fatalf("%d bytes left after the rejected length, want %d", len(rest), len(in)-lengthSize)
	}
}

func TestReadFrameAllocatesOnlyWhatArrives(t *testing.T) {
	// A peer announces a 256 MiB body and sends 10 bytes: the reader must
	// not allocate the announced size.
	in := append(header(9+256<<20, TypeApplyRequest, 1), make([]byte, 10)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(newReader(in), 1<<30)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error = %v, want io.ErrUnexpectedEOF", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("allocated %d bytes for a 10-byte body", grew)
	}
}

func TestBodySizeLimitOfTheLengthField(t *testing.T) {
	if math.MaxInt <= MaxBodySize {
		t.Skip("needs 64-bit int")
	}
	// WriteFrame calls checkBodySize before writing anything; a real 4 GiB
	// body is too much memory for a unit test.
	if err := checkBodySize(MaxBodySize); err != nil {
		t.Fatalf("checkBodySize(MaxBodySize) = %v, want nil", err)
	}
	if err := checkBodySize(MaxBodySize + 1); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("checkBodySize(MaxBodySize+1) = %v, want ErrFrameTooLarge", err)
	}
}

// TestFrameHeadersDoNotAllocate: a Writer that has grown its buffer
// writes small frames, and ReadHeader reads any header, without
// allocating, so a round of small RPCs pays only for the bodies.
func TestFrameHeadersDoNotAllocate(t *testing.T) {
	f := Frame{Type: TypeConfirmRequest, ID: 42, Body: []byte("0123456789")}
	var stream bytes.Buffer
	w := Writer{W: &stream}
	if err := w.WriteFrame(f); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		stream.Reset()
		if err := w.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Writer.WriteFrame: %v allocations per frame, want 0", n)
	}
	encoded := bytes.Clone(stream.Bytes())
	src := bytes.NewReader(encoded)
	r := bufio.NewReader(src)
	if n := testing.AllocsPerRun(100, func() {
		src.Reset(encoded)
		r.Reset(src)
		h, err := ReadHeader(r, 1<<10)
		if err != nil || h.Type != f.Type || h.ID != f.ID || h.BodyLen != len(f.Body) {
			t.Fatalf("ReadHeader = %+v, %v", h, err)
		}
	}); n != 0 {
		t.Errorf("ReadHeader: %v allocations per header, want 0", n)
	}
}
