package snapshot

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// routeGen is an endless, seeded generator of configuration-like data: the
// entries of a JSON map of API-gateway routes. It never holds more than one
// entry in memory, so tests and benchmarks can stream any size through it.
type routeGen struct {
	rng  *rand.Rand
	next int
	buf  []byte
}

func newRouteGen(seed uint64) *routeGen {
	return &routeGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

var (
	routeWords   = []string{"users", "orders", "billing", "search", "catalog", "auth", "inventory", "reports", "media", "events", "payments", "profiles"}
	routeMethods = []string{`["GET"]`, `["GET","POST"]`, `["PUT","PATCH"]`, `["DELETE"]`, `["GET","HEAD","OPTIONS"]`}
	routeTeams   = []string{"platform", "growth", "checkout", "identity", "data"}
)

func (g *routeGen) Read(p []byte) (int, error) {
	if len(g.buf) == 0 {
		g.next++
		r := g.rng
		g.buf = fmt.Appendf(g.buf[:0],
			`"route-%06d":{"path":"/api/v%d/%s/%s/{id}","methods":%s,"upstream":"http://10.%d.%d.%d:%d","timeout_ms":%d,"retries":%d,"strip_prefix":%t,"headers":{"X-Team":"%s","X-Route-Id":"%08x"}},`+"\n",
			g.next, 1+r.IntN(3), routeWords[r.IntN(len(routeWords))], routeWords[r.IntN(len(routeWords))],
			routeMethods[r.IntN(len(routeMethods))], r.IntN(8), r.IntN(256), r.IntN(256), 8000+r.IntN(100),
			500*(1+r.IntN(20)), r.IntN(4), r.IntN(2) == 0, routeTeams[r.IntN(len(routeTeams))], r.Uint32())
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// routeConfig returns n bytes of generated route configuration.
func routeConfig(seed uint64, n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(newRouteGen(seed), b); err != nil {
		panic(err) // routeGen never fails
	}
	return b
}

// encodeStream returns the stream a Writer produces for payload.
func encodeStream(t testing.TB, h Header, payload []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if _, err := w.Write(payload); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// pipeStream runs a Writer in a goroutine that copies payload into a pipe
// and returns the pipe's reading end; the goroutine ends when the payload
// is written or the reader is closed (which the test's cleanup does).
func pipeStream(t testing.TB, h Header, payload io.Reader) io.Reader {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w, err := NewWriter(pw, h)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		buf := make([]byte, 48<<10) // not a multiple of the chunk size
		if _, err := io.CopyBuffer(w, struct{ io.Reader }{payload}, buf); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(w.Close())
	}()
	t.Cleanup(func() {
		pr.Close()
		<-done
	})
	return pr
}

// dirEntries lists the names in dir, failing the test on error.
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// flip returns a copy of b with the byte at i inverted.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}
