package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadFrame feeds arbitrary bytes to ReadFrame. It must never panic,
// must fail only with the documented errors, and a frame it accepts must
// re-encode to exactly the bytes it consumed.
func FuzzReadFrame(f *testing.F) {
	for _, s := range fullSamples() {
		fr, _ := Encode(7, s.msg)
		var buf bytes.Buffer
		_ = WriteFrame(&buf, fr)
		f.Add(buf.Bytes())
	}
	f.Add(header(8, 1, 1))
	f.Add(header(9+1<<20, 1, 1))
	f.Add([]byte{0, 0, 0})

	const maxBody = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ReadFrame(newReader(data), maxBody)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrFrameTooLarge) &&
				err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if len(fr.Body) > maxBody {
			t.Fatalf("accepted a %d-byte body over the %d limit", len(fr.Body), maxBody)
		}
		var buf bytes.Buffer
		if err := WriteFrame(&buf, fr); err != nil {
			t.Fatalf("WriteFrame of a frame ReadFrame accepted: %v", err)
		}
		if !bytes.HasPrefix(data, buf.Bytes()) {
			t.Fatalf("re-encoded frame %x is not a prefix of the input %x", buf.Bytes(), data)
		}
	})
}

// FuzzMessages decodes arbitrary bodies as every message type. Decoding
// must never panic, must fail only with ErrMalformed, and whatever it
// accepts must re-encode to exactly the input (the encoding is canonical).
func FuzzMessages(f *testing.F) {
	for _, s := range append(fullSamples(), zeroSamples()...) {
		data, _ := s.msg.MarshalBinary()
		f.Add(byte(s.typ), data)
	}
	f.Fuzz(func(t *testing.T, typ byte, data []byte) {
		m := NewMessage(Type(typ))
		if m == nil {
			return
		}
		if err := m.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v: error %v does not wrap ErrMalformed", Type(typ), err)
			}
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("%v: cannot re-encode an accepted message: %v", Type(typ), err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("%v: input %x re-encodes as %x", Type(typ), data, out)
		}
	})
}
