package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
	"testing/iotest"
)

// Offsets inside a version-1 stream header.
const (
	offVersion     = 8
	offFieldsLen   = 10
	offCompression = 12
	offIndex       = 13
	offCreated     = 29
	offHeaderCRC   = headerSizeV1 - crcSize
	offFirstChunk  = headerSizeV1
)

// frameStream builds a stream with the given chunking by hand, so tests can
// cover layouts the Writer never produces (many tiny chunks).
func frameStream(h Header, chunks ...[]byte) []byte {
	b := appendStreamHeader(nil, h)
	var all []byte
	for _, c := range chunks {
		b = append(b, chunkTagData)
		b = binary.BigEndian.AppendUint32(b, uint32(len(c)))
		b = append(b, c...)
		all = append(all, c...)
	}
	return appendStreamTrailer(b, uint64(len(all)), crc32.Checksum(all, castagnoli))
}

// rechecksumHeader recomputes the header CRC after a deliberate edit, so
// the edit is seen as intact rather than corrupt.
func rechecksumHeader(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offHeaderCRC:], crc32.Checksum(b[:offHeaderCRC], castagnoli))
	return b
}

// checkRefused asserts that both streamReader and Verify refuse stream with an
// error wrapping want, and that Verify leaves nothing in its directory.
func checkRefused(t *testing.T, stream []byte, want error) {
	t.Helper()
	var err error
	if r, nerr := newStreamReader(bytes.NewReader(stream)); nerr != nil {
		err = nerr
	} else {
		_, err = io.ReadAll(r)
	}
	if !errors.Is(err, want) {
		t.Errorf("streamReader: err = %v, want one wrapping %v", err, want)
	}
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(len(stream)) {
		t.Errorf("streamReader: err = %#v, want a *FormatError with an offset inside the input", err)
	}

	dir := t.TempDir()
	h, rc, err := Verify(bytes.NewReader(stream), dir)
	if !errors.Is(err, want) || rc != nil || h != (Header{}) {
		t.Errorf("Verify = %v, %v, %v; want zero header, nil reader, error wrapping %v", h, rc, err, want)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("Verify left %v in dir", names)
	}
}

func TestStreamCorruption(t *testing.T) {
	for _, c := range []Compression{None, Flate} {
		good := encodeStream(t, Header{Index: 5, Term: 1, Compression: c, CreatedUnixNano: 99}, routeConfig(4, 300))
		chunkLen := int(binary.BigEndian.Uint32(good[offFirstChunk+1:]))
		offData := offFirstChunk + chunkHdrSize
		offEnd := offData + chunkLen
		offTrailer := offEnd + 1
		if good[offEnd] != chunkTagEnd || len(good) != offTrailer+trailerSize {
			t.Fatalf("%v: test stream is not one chunk followed by the trailer", c)
		}
		cases := []struct {
			name   string
			stream []byte
			want   error
		}{
			{"empty stream", nil, ErrNotSnapshot},
			{"wrong magic", flip(good, 1), ErrNotSnapshot},
			{"not a snapshot", []byte(`{"routes":{}}`), ErrNotSnapshot},
			{"version byte flipped", flip(good, offVersion+1), ErrCorrupt},
			{"intact header of version 2", rechecksumHeader(func() []byte { b := bytes.Clone(good); b[offVersion+1] = 2; return b }()), ErrUnsupportedVersion},
			{"intact header with unknown compression", rechecksumHeader(func() []byte { b := bytes.Clone(good); b[offCompression] = 7; return b }()), ErrUnsupportedVersion},
			{"intact header with absurd length", func() []byte { b := bytes.Clone(good); b[offFieldsLen] = 0xff; return b }(), ErrCorrupt},
			{"index byte flipped", flip(good, offIndex+7), ErrCorrupt},
			{"created byte flipped", flip(good, offCreated), ErrCorrupt},
			{"header checksum flipped", flip(good, offHeaderCRC+2), ErrCorrupt},
			{"chunk tag flipped", flip(good, offFirstChunk), ErrCorrupt},
			{"chunk length zero", func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint32(b[offFirstChunk+1:], 0); return b }(), ErrCorrupt},
			{"chunk length over the limit", flip(good, offFirstChunk+1), ErrCorrupt},
			{"first payload byte flipped", flip(good, offData), ErrCorrupt},
			{"middle payload byte flipped", flip(good, offData+chunkLen/2), ErrCorrupt},
			{"last payload byte flipped", flip(good, offEnd-1), ErrCorrupt},
			{"end marker flipped", flip(good, offEnd), ErrCorrupt},
			{"trailer length flipped", flip(good, offTrailer+7), ErrCorrupt},
			{"trailer checksum flipped", flip(good, len(good)-1), ErrCorrupt},
			{"extra trailing byte", append(bytes.Clone(good), 0), ErrCorrupt},
			{"two streams back to back", append(bytes.Clone(good), good...), ErrCorrupt},
		}
		for _, tc := range cases {
			t.Run(c.String()+"/"+tc.name, func(t *testing.T) { checkRefused(t, tc.stream, tc.want) })
		}
	}
}

func TestStreamTruncatedAtEveryOffset(t *testing.T) {
	streams := map[string][]byte{
		"none":        encodeStream(t, Header{Index: 3}, routeConfig(5, 120)),
		"flate":       encodeStream(t, Header{Index: 3, Compression: Flate}, routeConfig(5, 120)),
		"empty":       encodeStream(t, Header{Index: 3}, nil),
		"tiny chunks": frameStream(Header{Index: 3}, []byte("ab"), []byte("c"), []byte("defg"), []byte("h")),
	}
	for name, good := range streams {
		t.Run(name, func(t *testing.T) {
			for cut := 0; cut < len(good); cut++ {
				want := ErrTruncated
				if cut == 0 {
					want = ErrNotSnapshot
				}
				checkRefused(t, good[:cut], want)
			}
		})
	}
}

func TestReaderAcceptsAnyChunking(t *testing.T) {
	payload := []byte("abcdefgh")
	stream := frameStream(Header{Index: 1}, payload[:1], payload[1:5], payload[5:])
	_, rc, err := Verify(bytes.NewReader(stream), t.TempDir())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, payload) {
		t.Errorf("payload = %q, want %q", got, payload)
	}
}

func TestStreamInputFailureIsReported(t *testing.T) {
	boom := errors.New("network reset")
	good := encodeStream(t, Header{}, routeConfig(6, 2*MaxChunkSize))
	for _, after := range []int{0, 5, headerSizeV1 + 10, len(good) - 3} {
		src := io.MultiReader(bytes.NewReader(good[:after]), iotest.ErrReader(boom))
		dir := t.TempDir()
		_, rc, err := Verify(src, dir)
		if !errors.Is(err, boom) || rc != nil {
			t.Errorf("after %d bytes: Verify = %v, %v; want nil reader and %v", after, rc, err, boom)
		}
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrNotSnapshot) {
			t.Errorf("after %d bytes: input failure %v reported as a format problem", after, err)
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Errorf("after %d bytes: Verify left %v", after, names)
		}
	}
}

func TestFormatErrorMessage(t *testing.T) {
	_, err := newStreamReader(bytes.NewReader(flip(encodeStream(t, Header{}, nil), offIndex)))
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *FormatError", err)
	}
	if fe.Kind != ErrCorrupt || fe.Offset != offHeaderCRC {
		t.Errorf("FormatError = %+v, want ErrCorrupt at the header checksum (%d)", fe, offHeaderCRC)
	}
	if want := "snapshot: corrupt at byte 37: header checksum mismatch"; !bytes.HasPrefix([]byte(err.Error()), []byte(want)) {
		t.Errorf("message %q does not start with %q", err.Error(), want)
	}
}
