package mux

import (
	"bytes"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testtls"
)

// connListener hands out the conns sent on its channel.
type connListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// FuzzHandshake feeds arbitrary bytes to a Mux's handshake phase, as the
// first bytes of one connection, to a plain Mux and to a TLS one (the
// first input byte chooses). The Mux must not panic, must hand a
// connection to a listener only with the kind byte it was sent (plain) or
// after a verified TLS handshake (never, from bytes alone), must end the
// handshake phase when the input ends, and must leave no goroutine
// behind (goleak in TestMain).
func FuzzHandshake(f *testing.F) {
	f.Add([]byte{0, KindRPC, 'h', 'i'})
	f.Add([]byte{0, KindRaft})
	f.Add([]byte{0, 0x16, 3, 1, 0, 5})
	f.Add([]byte{0})
	f.Add([]byte{1, KindRPC})                                  // plain dialer to a TLS Mux
	f.Add([]byte{1, 0x16, 3, 1, 0, 0x30, 1, 0, 0, 0x2c, 3, 3}) // a truncated ClientHello
	f.Add([]byte{1, 0x16, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, refuseByte, 200})

	ca := testtls.NewCA(f)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.Issue(f, "server")}, RootCAs: ca.Pool}

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		var conf *tls.Config
		if data[0]&1 == 1 {
			conf = serverTLS
		}
		input := data[1:]
		ln := &connListener{conns: make(chan net.Conn), done: make(chan struct{})}
		m := New(ln, conf, nil, Options{HandshakeTimeout: time.Second})
		defer m.Close()
		accepted := make(chan net.Conn, 2)
		for _, kind := range []byte{KindRPC, KindRaft} {
			l := m.Listener(kind)
			go func() {
				c, err := l.Accept()
				if err == nil {
					accepted <- c
				}
			}()
		}
		client, server := net.Pipe()
		defer client.Close()
		ln.conns <- server
		// Whatever the Mux answers is drained; the input ends with a
		// hang-up.
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			buf := make([]byte, 512)
			for {
				if _, err := client.Read(buf); err != nil {
					return
				}
			}
		}()
		client.SetWriteDeadline(time.Now().Add(time.Second))
		client.Write(input)
		select {
		case c := <-accepted:
			if conf != nil {
				t.Fatal("a TLS Mux handed out a connection made of bytes alone")
			}
			if len(input) == 0 || (input[0] != KindRPC && input[0] != KindRaft) {
				t.Fatalf("handed out a connection whose first byte is %#x", input[0])
			}
			if !bytes.Equal([]byte{input[0]}, []byte{c.(*trackedConn).kind}) {
				t.Fatal("handed to the listener of another kind")
			}
			c.Close()
		default:
		}
		client.Close()
		<-drained
		m.Close()
		if n := m.pendingCount(); n != 0 {
			t.Fatalf("%d connections still counted as pending after Close", n)
		}
	})
}
