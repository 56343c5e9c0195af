package wire

import (
	"encoding/binary"
	"fmt"
	"time"
)

// maxVarint is the longest encoding of a uvarint, or of a duration.
const maxVarint = binary.MaxVarintLen64

// encoder appends fields to a buffer in the package's encoding. It records
// the first invalid value it is given; later calls are then no-ops.
type encoder struct {
	name string // message name, for errors
	buf  []byte
	err  error
}

func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

func (e *encoder) duration(d time.Duration) { e.buf = binary.AppendVarint(e.buf, int64(d)) }

func (e *encoder) byte(b byte) { e.buf = append(e.buf, b) }

func (e *encoder) bool(b bool) {
	if b {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

func (e *encoder) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) invalid(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%w: cannot encode %s: %s", ErrMalformed, e.name, fmt.Sprintf(format, args...))
	}
}

// result returns the encoding, or the first invalid value seen.
func (e *encoder) result() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	if e.buf == nil {
		e.buf = []byte{}
	}
	return e.buf, nil
}

// decoder reads fields in the package's encoding, strictly. After the first
// error every read returns a zero value and the error is kept, so a message
// decoder reads all its fields and checks once at the end.
type decoder struct {
	name string // message name, for errors
	buf  []byte
	off  int
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d: %s", ErrMalformed, d.name, d.off, fmt.Sprintf(format, args...))
	}
}

// uvarint reads a uvarint and insists on its shortest form, so that every
// value has exactly one encoding.
func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	switch {
	case n == 0:
		d.fail("truncated varint")
		return 0
	case n < 0:
		d.fail("varint overflows 64 bits")
		return 0
	case n > 1 && d.buf[d.off+n-1] == 0:
		d.fail("varint not in shortest form")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) duration() time.Duration {
	u := d.uvarint() // zig-zag: the same bytes as binary.Varint reads
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return time.Duration(v)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.buf) {
		d.fail("truncated: want 1 more byte")
		return 0
	}
	b := d.buf[d.off]
	d.off++
	return b
}

func (d *decoder) bool() bool {
	b := d.byte()
	if b > 1 {
		d.off--
		d.fail("bool byte is %d, want 0 or 1", b)
		return false
	}
	return b == 1
}

// raw returns the next length-prefixed byte string as a sub-slice of the
// input, after checking the length against what remains.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)-d.off) {
		d.fail("length %d exceeds the %d bytes remaining", n, len(d.buf)-d.off)
		return nil
	}
	b := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

// bytes returns a copy of the next byte string; an empty one decodes as nil.
func (d *decoder) bytes() []byte {
	b := d.raw()
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func (d *decoder) string() string { return string(d.raw()) }

// finish reports the first error, or trailing bytes after the last field.
func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.buf) {
		d.fail("%d trailing bytes", len(d.buf)-d.off)
	}
	return d.err
}
