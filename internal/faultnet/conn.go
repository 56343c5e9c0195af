package faultnet

import (
	"net"
	"sync"
	"time"
)

// chunkSize is the most a relay reads at once; queueLen is how many chunks
// a direction buffers before the sender blocks (a socket buffer's worth).
const (
	chunkSize = 32 << 10
	queueLen  = 64
)

// conn is one relayed connection. The caller holds app, one end of an
// in-memory pipe; the relay owns the other end (inner) and the loopback TCP
// connection to the target (raw), and copies between them in both
// directions, one reader and one writer goroutine per direction, so that
// a direction can be held or delayed without stopping the other.
type conn struct {
	net    *Network
	from   string // the dialling member
	toAddr string // the target's address; its name is resolved when needed
	raw    net.Conn
	inner  net.Conn
	app    net.Conn

	dead     chan struct{}
	killOnce sync.Once
	// matched[0] (dialler to target) and matched[1] (back) are set, under
	// the Network's lock, once a chunk of that direction matched a
	// StallMatching; the direction is held until UnstallMatching.
	matched [2]bool
}

// chunk is one read's worth of bytes and when it may be delivered.
type chunk struct {
	data    []byte
	at      time.Time // deliver no earlier than this
	delayed bool
	// cutAt >= 0: deliver data[:cutAt], then close the connection.
	cutAt int
	// matched: read at or after the chunk a StallMatching accepted; held
	// while that stall lasts.
	matched bool
}

// appConn is the caller's end: a pipe that reports the TCP addresses.
type appConn struct {
	net.Conn
	local, remote net.Addr
}

func (a *appConn) LocalAddr() net.Addr  { return a.local }
func (a *appConn) RemoteAddr() net.Addr { return a.remote }

// startConnLocked wraps raw and starts its relay. n.mu is held.
func (n *Network) startConnLocked(from, toAddr string, raw net.Conn) net.Conn {
	app, inner := net.Pipe()
	c := &conn{net: n, from: from, toAddr: toAddr, raw: raw, inner: inner, dead: make(chan struct{})}
	c.app = &appConn{Conn: app, local: raw.LocalAddr(), remote: raw.RemoteAddr()}
	n.conns[c] = struct{}{}
	up := make(chan chunk, queueLen)
	down := make(chan chunk, queueLen)
	n.wg.Add(4)
	go c.read(inner, up, true)
	go c.write(raw, up, true)
	go c.read(raw, down, false)
	go c.write(inner, down, false)
	return c.app
}

// ends returns the member names bytes flow between in one direction: up is
// from the dialler to the target.
func (c *conn) endsLocked(up bool) (from, to string) {
	target := c.net.names[c.toAddr]
	if up {
		return c.from, target
	}
	return target, c.from
}

// read copies src into q, stamping each chunk with its delivery time and
// reset draw. When src ends it closes q, so the writer delivers what is
// queued and then ends the connection.
func (c *conn) read(src net.Conn, q chan<- chunk, up bool) {
	defer c.net.wg.Done()
	defer close(q)
	for {
		buf := make([]byte, chunkSize)
		k, err := src.Read(buf)
		if k > 0 {
			ch := c.stamp(buf[:k], up)
			select {
			case q <- ch:
			case <-c.dead:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (c *conn) stamp(data []byte, up bool) chunk {
	n := c.net
	n.mu.Lock()
	defer n.mu.Unlock()
	from, to := c.endsLocked(up)
	l := link{from, to}
	ch := chunk{data: data, at: time.Now(), cutAt: -1}
	if d, ok := n.delays[l]; ok {
		wait := d.base
		if d.jitter > 0 {
			wait += time.Duration(n.rng.Int64N(int64(d.jitter) + 1))
		}
		ch.at = ch.at.Add(wait)
		ch.delayed = wait > 0
	}
	if p := n.resets[l]; p > 0 && n.rng.Float64() < p {
		ch.cutAt = n.rng.IntN(len(data))
	}
	if m := n.matchers[l]; m != nil && !c.matched[dir(up)] && m(data) {
		c.matched[dir(up)] = true
	}
	ch.matched = c.matched[dir(up)]
	return ch
}

// dir indexes conn.matched: 0 for bytes from the dialler, 1 back.
func dir(up bool) int {
	if up {
		return 0
	}
	return 1
}

// write delivers q's chunks to dst in order, each once its time has come
// and its direction is not held. It ends the connection when q ends, when
// a chunk carries a reset, or when dst fails.
func (c *conn) write(dst net.Conn, q <-chan chunk, up bool) {
	defer c.net.wg.Done()
	defer c.kill()
	for ch := range q {
		if !c.waitDeliver(ch, up) {
			return
		}
		if ch.cutAt >= 0 {
			dst.Write(ch.data[:ch.cutAt])
			c.net.mu.Lock()
			c.net.stats.Truncated++
			c.net.mu.Unlock()
			return
		}
		if _, err := dst.Write(ch.data); err != nil {
			return
		}
	}
}

// waitDeliver blocks until ch may be delivered. It reports false when the
// connection died first.
func (c *conn) waitDeliver(ch chunk, up bool) bool {
	n := c.net
	counted := false
	for {
		n.mu.Lock()
		from, to := c.endsLocked(up)
		held := n.heldLocked(from, to) || (ch.matched && c.matched[dir(up)])
		wake := n.changed
		if held && !counted {
			n.stats.Held++
			counted = true
		}
		n.mu.Unlock()
		if !held {
			wait := time.Until(ch.at)
			if wait <= 0 {
				if ch.delayed {
					n.mu.Lock()
					n.stats.Delayed++
					n.mu.Unlock()
				}
				return true
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-wake:
				t.Stop()
			case <-c.dead:
				t.Stop()
				return false
			}
			continue
		}
		select {
		case <-wake:
		case <-c.dead:
			return false
		}
	}
}

// kill closes the connection at once, discarding whatever is queued. It
// reports whether this call was the one that closed it.
func (c *conn) kill() bool {
	first := false
	c.killOnce.Do(func() {
		first = true
		close(c.dead)
		c.raw.Close()
		c.inner.Close()
		c.net.mu.Lock()
		delete(c.net.conns, c)
		c.net.mu.Unlock()
	})
	return first
}
