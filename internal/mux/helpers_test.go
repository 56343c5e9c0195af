package mux

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftkit/raftkit/internal/testtls"
)

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) contains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Contains(b.buf.String(), s)
}

// startMux listens on a loopback port and returns the Mux and its log. The
// Mux is closed at the end of the test.
func startMux(t *testing.T, tlsConf *tls.Config, opts Options) (*Mux, *logBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	logger := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	m := New(ln, tlsConf, logger, opts)
	t.Cleanup(func() { m.Close() })
	return m, logs
}

// serveTagged accepts connections on l until it is closed and answers each
// with tag followed by an echo of what the connection sends. The serving
// goroutines are waited for at the end of the test.
func serveTagged(t *testing.T, l net.Listener, tag string) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := io.WriteString(c, tag); err != nil {
					return
				}
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
}

// roundTrip writes msg on c and reads back len(want) bytes.
func roundTrip(t *testing.T, c net.Conn, msg, want string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// mutualTLS returns server and client configs from one CA, for 127.0.0.1.
func mutualTLS(t *testing.T) (server, client *tls.Config, ca *testtls.CA) {
	ca = testtls.NewCA(t)
	server = ca.ServerClientConfig(ca.Issue(t, "server", net.IPv4(127, 0, 0, 1)))
	client = ca.ServerClientConfig(ca.Issue(t, "client", net.IPv4(127, 0, 0, 1)))
	return server, client, ca
}

// expectClosed asserts that the server closes c without sending anything
// (a read ends in EOF or a reset, well before the deadline).
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil {
		t.Fatalf("read %d bytes, err %v; want the connection closed", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 5s: %v", err)
	}
}

// countLines counts the lines that contain every one of subs.
func (b *logBuffer) countLines(subs ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
lines:
	for _, l := range strings.Split(b.buf.String(), "\n") {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue lines
			}
		}
		n++
	}
	return n
}
