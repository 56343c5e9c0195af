package snapshot

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// noiseGen is an allocation-free generator of seeded pseudo-random bytes,
// so that allocations measured around Verify are Verify's own.
type noiseGen struct{ rng *rand.PCG }

func (g noiseGen) Read(p []byte) (int, error) {
	n := len(p)
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, g.rng.Uint64())
		p = p[8:]
	}
	for i := range p {
		p[i] = byte(g.rng.Uint64())
	}
	return n, nil
}

func TestVerifyMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MB stream skipped in -short")
	}
	const budget = 16 << 20
	for _, c := range []Compression{None, Flate} {
		t.Run(c.String(), func(t *testing.T) {
			size := 64 << 20
			if c == Flate && raceEnabled {
				size = 16 << 20
			}
			want := crc32.New(castagnoli)
			payload := io.TeeReader(io.LimitReader(noiseGen{rand.NewPCG(7, 8)}, int64(size)), want)
			src := pipeStream(t, Header{Index: 1, Compression: c}, payload)

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, rc, err := Verify(src, t.TempDir())
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			defer rc.Close()

			// TotalAlloc counts every byte allocated in the meantime (by the
			// writer goroutine too), so it bounds the heap growth from above.
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > budget {
				t.Errorf("verifying a %d MB stream allocated %d bytes, budget %d", size>>20, allocated, budget)
			} else {
				t.Logf("verifying a %d MB %v stream allocated %d KiB", size>>20, c, allocated>>10)
			}
			got := crc32.New(castagnoli)
			if n, err := io.Copy(got, rc); err != nil || n != int64(size) || got.Sum32() != want.Sum32() {
				t.Errorf("verified payload: %d bytes, err %v, checksum match %v", n, err, got.Sum32() == want.Sum32())
			}
		})
	}
}
