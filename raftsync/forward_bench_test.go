package raftsync_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
)

// BenchmarkForward measures Apply on the leader and on a follower, with 1
// to 256 concurrent writers, on one three-node loopback cluster, next to
// a minimal forward: one TCP connection per writer to a goroutine on the
// leader that calls raft.Apply, the least a forward can cost.
//
//	go test -run '^$' -bench Forward -benchtime 3s ./raftsync
func BenchmarkForward(b *testing.B) {
	c := testcluster.New(b, 3, testcluster.Options{})
	leader := c.Leader()
	follower := c.Followers()[0]
	mustApplyB(b, leader)
	bare := startBareForward(b, leader)
	for _, writers := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("leader/w%d", writers), func(b *testing.B) {
			runTimedWriters(b, writers, func(i int64) error {
				_, err := leader.Node.Apply(b.Context(), benchCommand(i))
				return err
			})
		})
		b.Run(fmt.Sprintf("follower/w%d", writers), func(b *testing.B) {
			runTimedWriters(b, writers, func(i int64) error {
				_, err := follower.Node.Apply(b.Context(), benchCommand(i))
				return err
			})
		})
		if writers <= 64 {
			b.Run(fmt.Sprintf("bareforward/w%d", writers), func(b *testing.B) {
				conns := make(chan *bareConn, writers)
				for range writers {
					bc, err := bare.dial()
					if err != nil {
						b.Fatal(err)
					}
					defer bc.conn.Close()
					conns <- bc
				}
				runTimedWriters(b, writers, func(i int64) error {
					bc := <-conns
					defer func() { conns <- bc }()
					return bc.apply(benchCommand(i))
				})
			})
		}
	}
}

func benchCommand(i int64) []byte {
	return testcluster.Set(fmt.Sprintf("k%d", i%1000), "0123456789012345678901234567890123456789")
}

// runTimedWriters runs write b.N times over n goroutines and reports writes/s
// and the median latency.
func runTimedWriters(b *testing.B, n int, write func(i int64) error) {
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	lat := make([][]time.Duration, n)
	b.ResetTimer()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				start := time.Now()
				if err := write(i); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// bareForward serves length-prefixed commands on loopback with
// raft.Apply on the leader, one request at a time per connection.
type bareForward struct{ addr string }

type bareConn struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func startBareForward(b *testing.B, leader *testcluster.Member) *bareForward {
	return startBareForwardWith(b, func(cmd []byte) error { return leader.Node.Raft().Apply(cmd, 0).Error() })
}

func startBareForwardWith(b *testing.B, apply func([]byte) error) *bareForward {
	addr := serveLoopback(b, func(conn net.Conn, r *bufio.Reader) {
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			cmd := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(r, cmd); err != nil {
				return
			}
			var out [9]byte
			if apply(cmd) == nil {
				out[0] = 1
			}
			if _, err := conn.Write(out[:]); err != nil {
				return
			}
		}
	})
	return &bareForward{addr: addr}
}

// serveLoopback accepts connections on a loopback port until the
// benchmark ends and runs serve on each, in a goroutine of its own; it
// returns the port's address.
func serveLoopback(b *testing.B, serve func(conn net.Conn, r *bufio.Reader)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				serve(conn, bufio.NewReader(conn))
			}()
		}
	}()
	return ln.Addr().String()
}

func (f *bareForward) dial() (*bareConn, error) {
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		return nil, err
	}
	return &bareConn{conn: conn, r: bufio.NewReader(conn)}, nil
}

func (c *bareConn) apply(cmd []byte) error {
	c.buf = binary.BigEndian.AppendUint32(c.buf[:0], uint32(len(cmd)))
	c.buf = append(c.buf, cmd...)
	if _, err := c.conn.Write(c.buf); err != nil {
		return err
	}
	var out [9]byte
	if _, err := io.ReadFull(c.r, out[:]); err != nil {
		return err
	}
	if out[0] != 1 {
		return fmt.Errorf("bare forward: leader refused")
	}
	return nil
}

// BenchmarkForwardRatio alternates short rounds of leader and follower
// Applies on one cluster and reports the median of the per-round ratio
// of follower to leader throughput, which background load on a shared
// machine disturbs far less than two separate figures.
//
//	go test -run '^$' -bench ForwardRatio -benchtime 1x ./raftsync
func BenchmarkForwardRatio(b *testing.B) {
	// raft's default timeouts, as internal/cmd/bench: a loaded machine
	// must not cost the leadership mid-run.
	c := testcluster.New(b, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) { cfg.RaftConfig = nil }})
	leader := c.Leader()
	follower := c.Followers()[0]
	mustApplyB(b, leader)
	for _, writers := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("w%d", writers), func(b *testing.B) {
			const rounds, round = 8, 400 * time.Millisecond
			var ratios, lead, fol, leadCPU, folCPU []float64
			for range rounds {
				l, lc := roundThroughput(b, writers, round, leader)
				f, fc := roundThroughput(b, writers, round, follower)
				lead, fol = append(lead, l), append(fol, f)
				leadCPU, folCPU = append(leadCPU, lc), append(folCPU, fc)
				ratios = append(ratios, f/l)
			}
			for _, s := range [][]float64{ratios, lead, fol, leadCPU, folCPU} {
				slices.Sort(s)
			}
			b.ReportMetric(lead[rounds/2], "leader-writes/s")
			b.ReportMetric(fol[rounds/2], "follower-writes/s")
			b.ReportMetric(ratios[rounds/2], "follower/leader")
			b.ReportMetric(leadCPU[rounds/2], "leader-cpu-µs/write")
			b.ReportMetric(folCPU[rounds/2], "follower-cpu-µs/write")
		})
	}
}

// roundThroughput runs writers goroutines applying on m for d and returns
// the writes per second and the process's CPU time per write.
func roundThroughput(b *testing.B, writers int, d time.Duration, m *testcluster.Member) (float64, float64) {
	var done atomic.Int64
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				if _, err := m.Node.Apply(b.Context(), benchCommand(done.Load())); err != nil {
					b.Error(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	n := float64(done.Load())
	return n / time.Since(start).Seconds(), float64((processCPU() - cpu0).Microseconds()) / n
}

// processCPU is the CPU time, user and system, the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkForwardBatched measures a minimal batched forward next to
// Apply on the leader: the follower's concurrent writes are queued and
// sent together, a batch per round trip on each of two connections, and
// the leader applies a batch's commands concurrently with raft.Apply and
// answers them in one message. It tells whether carrying several
// forwarded commands per frame would bring follower writes closer to the
// leader's.
//
//	go test -run '^$' -bench ForwardBatched -benchtime 3s ./raftsync
func BenchmarkForwardBatched(b *testing.B) {
	c := testcluster.New(b, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) { cfg.RaftConfig = nil }})
	leader := c.Leader()
	mustApplyB(b, leader)
	bt := newBareBatcher(b, startBatchForward(b, leader), 2)
	for _, writers := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("leader/w%d", writers), func(b *testing.B) {
			runTimedWriters(b, writers, func(i int64) error {
				_, err := leader.Node.Apply(b.Context(), benchCommand(i))
				return err
			})
		})
		b.Run(fmt.Sprintf("batched/w%d", writers), func(b *testing.B) {
			runTimedWriters(b, writers, func(i int64) error { return bt.apply(benchCommand(i)) })
		})
	}
}

// startBatchForward serves batches on loopback: a count, then each
// command length-prefixed; the answer is one byte per command, 1 when
// raft applied it.
func startBatchForward(b *testing.B, leader *testcluster.Member) string {
	return serveLoopback(b, func(conn net.Conn, r *bufio.Reader) {
		for {
			cmds, err := readBatch(r)
			if err != nil {
				return
			}
			out := make([]byte, len(cmds))
			var applies sync.WaitGroup
			for i, cmd := range cmds {
				applies.Add(1)
				go func() {
					defer applies.Done()
					if leader.Node.Raft().Apply(cmd, 0).Error() == nil {
						out[i] = 1
					}
				}()
			}
			applies.Wait()
			if _, err := conn.Write(out); err != nil {
				return
			}
		}
	})
}

func readBatch(r *bufio.Reader) ([][]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	cmds := make([][]byte, binary.BigEndian.Uint32(hdr[:]))
	for i := range cmds {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		cmds[i] = make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r, cmds[i]); err != nil {
			return nil, err
		}
	}
	return cmds, nil
}

// bareBatcher queues commands and has each of its senders take every
// queued command, send them as one batch and wait for the answer.
type bareBatcher struct {
	mu    sync.Mutex
	cond  *sync.Cond
	queue []batchedCommand
	stop  bool
}

type batchedCommand struct {
	cmd  []byte
	done chan error
}

func newBareBatcher(b *testing.B, addr string, senders int) *bareBatcher {
	bt := &bareBatcher{}
	bt.cond = sync.NewCond(&bt.mu)
	var wg sync.WaitGroup
	b.Cleanup(func() {
		bt.mu.Lock()
		bt.stop = true
		bt.cond.Broadcast()
		bt.mu.Unlock()
		wg.Wait()
	})
	for range senders {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			bt.send(conn)
		}()
	}
	return bt
}

func (bt *bareBatcher) send(conn net.Conn) {
	r := bufio.NewReader(conn)
	var buf []byte
	for {
		bt.mu.Lock()
		for len(bt.queue) == 0 && !bt.stop {
			bt.cond.Wait()
		}
		take := bt.queue
		bt.queue = nil
		stop := bt.stop
		bt.mu.Unlock()
		if stop {
			for _, q := range take {
				q.done <- fmt.Errorf("batcher stopped")
			}
			return
		}
		buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(take)))
		for _, q := range take {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(q.cmd)))
			buf = append(buf, q.cmd...)
		}
		out := make([]byte, len(take))
		_, err := conn.Write(buf)
		if err == nil {
			_, err = io.ReadFull(r, out)
		}
		for i, q := range take {
			switch {
			case err != nil:
				q.done <- err
			case out[i] != 1:
				q.done <- fmt.Errorf("batched forward: leader refused")
			default:
				q.done <- nil
			}
		}
		if err != nil {
			return
		}
	}
}

func (bt *bareBatcher) apply(cmd []byte) error {
	q := batchedCommand{cmd: cmd, done: make(chan error, 1)}
	bt.mu.Lock()
	bt.queue = append(bt.queue, q)
	bt.cond.Signal()
	bt.mu.Unlock()
	return <-q.done
}
