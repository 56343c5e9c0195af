package snapshot

import (
	"bytes"
	"io"
	"testing"
)

// repeatReader yields block over and over until n bytes have been read, so
// large payloads need only one block of memory. Blocks of 1 MB are far
// beyond flate's 32 KB window, so the repetition does not flatter Flate.
type repeatReader struct {
	block []byte
	off   int
	n     int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	r.n -= int64(n)
	return n, nil
}

var benchSizes = []struct {
	name string
	size int64
}{
	{"1MB", 1 << 20},
	{"50MB", 50 << 20},
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// BenchmarkWriteVerify measures the whole path of one snapshot: the Writer
// encoding generated route configuration into a pipe while Verify checks it
// and spools the payload to a temporary file, then the payload is read
// back. Throughput is payload bytes per second; stream-ratio is stream
// size over payload size.
func BenchmarkWriteVerify(b *testing.B) {
	block := routeConfig(42, 1<<20)
	for _, c := range []Compression{None, Flate} {
		for _, sz := range benchSizes {
			b.Run(c.String()+"/"+sz.name, func(b *testing.B) {
				dir := b.TempDir()
				buf := make([]byte, 32<<10)
				b.SetBytes(sz.size)
				var streamBytes int64
				for b.Loop() {
					pr, pw := io.Pipe()
					cw := &countingWriter{w: pw}
					done := make(chan error, 1)
					go func() {
						w, err := NewWriter(cw, Header{Index: 1, Compression: c})
						if err == nil {
							_, err = io.CopyBuffer(w, &repeatReader{block: block, n: sz.size}, buf)
						}
						if err == nil {
							err = w.Close()
						}
						pw.CloseWithError(err)
						done <- err
					}()
					_, rc, err := Verify(pr, dir)
					if err != nil {
						b.Fatal(err)
					}
					if n, err := io.Copy(io.Discard, rc); err != nil || n != sz.size {
						b.Fatalf("read back %d bytes, err %v", n, err)
					}
					rc.Close()
					pr.Close()
					if err := <-done; err != nil {
						b.Fatal(err)
					}
					streamBytes = cw.n
				}
				b.ReportMetric(float64(streamBytes)/float64(sz.size), "stream-ratio")
			})
		}
	}
}

// BenchmarkWrite measures encoding alone (the cost raft's snapshot Persist
// pays), into io.Discard.
func BenchmarkWrite(b *testing.B) {
	block := routeConfig(42, 1<<20)
	for _, c := range []Compression{None, Flate} {
		b.Run(c.String()+"/1MB", func(b *testing.B) {
			b.SetBytes(int64(len(block)))
			for b.Loop() {
				w, _ := NewWriter(io.Discard, Header{Compression: c})
				w.Write(block)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReader measures decoding and checking alone (the cost a restore
// pays before the application sees the payload), without the spool file.
func BenchmarkReader(b *testing.B) {
	block := routeConfig(42, 1<<20)
	for _, c := range []Compression{None, Flate} {
		b.Run(c.String()+"/1MB", func(b *testing.B) {
			stream := encodeStream(b, Header{Compression: c}, block)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(block)))
			for b.Loop() {
				r, err := newStreamReader(bytes.NewReader(stream))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
