package raftsync_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/internal/testtls"
	"github.com/raftkit/raftkit/raftsync"
)

func TestMutualTLSClusterRefusesForeignCertificates(t *testing.T) {
	ca := testtls.NewCA(t)
	c := testcluster.New(t, 3, testcluster.Options{TLS: func(i int) *tls.Config {
		return ca.ServerClientConfig(ca.Issue(t, fmt.Sprintf("node%d", i), loopback))
	}})
	idx := mustApply(t, c.Followers()[0], testcluster.Set("over", "tls"))
	waitConverged(t, c, idx)

	// A node with a certificate from another CA cannot join.
	rogueCA := testtls.NewCA(t)
	rogueTLS := rogueCA.ServerClientConfig(rogueCA.Issue(t, "rogue", loopback))
	cfg := raftsync.Config{
		ID: "rogue", Dir: t.TempDir(), Addr: "127.0.0.1:0", Join: []string{c.Members[0].Addr},
		TLS: rogueTLS, RaftConfig: testcluster.FastRaft, Logger: testcluster.Logger(t, "rogue"),
	}
	if n, err := raftsync.Open(ctxTimeout(t, time.Second), cfg, testcluster.NewKV()); err == nil {
		n.Close()
		t.Fatal("node with a foreign certificate joined")
	}

	// Nor can it speak raft to a member: a raw AppendEntries over a TLS
	// connection with the rogue certificate fails at the handshake.
	leader := c.Leader()
	dialer := &net.Dialer{Timeout: time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", leader.Addr, rogueTLS)
	if err == nil {
		// TLS 1.3 reports a rejected client certificate on first read.
		conn.Write([]byte{'R'})
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("a member accepted a raft connection with a foreign certificate")
	}
	// Nor without any certificate at all, plain TCP.
	plain, err := net.DialTimeout("tcp", leader.Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	trans := raft.NewNetworkTransport(newPlainStream(plain), 1, time.Second, nil)
	defer trans.Close()
	var resp raft.AppendEntriesResponse
	err = trans.AppendEntries("x", raft.ServerAddress(leader.Addr), &raft.AppendEntriesRequest{Term: 1 << 40}, &resp)
	if err == nil {
		t.Fatal("a member answered a plain-TCP raft RPC while TLS is required")
	}
	if n := len(leader.Node.Status().Members); n != 3 {
		t.Fatalf("configuration changed to %d members", n)
	}
	if leader.Node.Status().Term >= 1<<40 {
		t.Fatal("an unauthenticated AppendEntries moved the term")
	}
	mustApply(t, leader, testcluster.Set("still", "fine"))
}

// plainStream is a raft.StreamLayer that hands out one pre-dialled plain
// TCP connection, prefixed with raft's connection kind byte.
type plainStream struct {
	conn net.Conn
	once sync.Once
	done chan struct{}
}

func newPlainStream(conn net.Conn) *plainStream {
	return &plainStream{conn: conn, done: make(chan struct{})}
}

func (s *plainStream) Accept() (net.Conn, error) {
	<-s.done
	return nil, net.ErrClosed
}

func (s *plainStream) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.conn.Close()
}

func (s *plainStream) Addr() net.Addr { return s.conn.LocalAddr() }
func (s *plainStream) Dial(raft.ServerAddress, time.Duration) (net.Conn, error) {
	if _, err := s.conn.Write([]byte{'R'}); err != nil {
		return nil, err
	}
	return s.conn, nil
}
