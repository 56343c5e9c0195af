package changefeed

import (
	"sync"
	"time"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/readiness"
)

// DefaultWindow is the window NewCoalescer uses when given 0.
const DefaultWindow = 50 * time.Millisecond

// merge folds a later pending change into c, so no range is lost.
func merge(c, later readiness.Change) readiness.Change {
	return readiness.Change{From: min(c.From, later.From), To: max(c.To, later.To), Initial: c.Initial || later.Initial}
}

// Coalescer turns the stream of applied indexes into few Changes, for
// applications that rebuild something (a routing table, a cache) when the
// configuration changes. Before the node's first Ready nothing is delivered,
// however many entries are replayed; the first Ready delivers one Initial
// Change covering everything applied. After it, the first Applied after a
// quiet period arms a timer of the window, later Applied calls extend the
// pending range, and the timer delivers one Change per subscriber. Later
// Degraded/Ready flapping (SetReady(false), SetReady(true)) does not pause
// or repeat delivery: applied entries are the state the node serves, ready
// or not.
//
// A Coalescer owns no goroutine; its only timer is created with the clock's
// AfterFunc while a range is pending. It is safe for concurrent use, and no
// method blocks on a subscriber.
type Coalescer struct {
	window time.Duration
	clk    clock.Clock

	mu        sync.Mutex
	applied   uint64
	everReady bool
	closed    bool
	timer     clock.Timer // non-nil while a flush is scheduled
	subs      map[*Subscription]struct{}
}

// NewCoalescer returns a Coalescer that gathers changes over window. A zero
// window means DefaultWindow (50ms); so does a negative one (raftsync.Config
// refuses it). A nil
// clk means the real clock.
func NewCoalescer(window time.Duration, clk clock.Clock) *Coalescer {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Coalescer{window: window, clk: clock.OrReal(clk), subs: make(map[*Subscription]struct{})}
}

// Applied reports that the FSM has finished applying up to index to. It may
// be called per entry or per batch; an index at or below the highest one
// reported is ignored. Before the first Ready it only records the index;
// after it, it schedules a delivery within the window. It never blocks, and
// does nothing after Close.
func (c *Coalescer) Applied(to uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || to <= c.applied {
		return
	}
	c.applied = to
	if c.everReady && c.timer == nil {
		c.timer = c.clk.AfterFunc(c.window, c.flush)
	}
}

// SetReady reports a readiness transition. The first SetReady(true)
// delivers one Initial Change covering (0, A] to every subscriber; later
// calls, and any SetReady(false), change nothing (see Coalescer). It never
// blocks, and does nothing after Close.
func (c *Coalescer) SetReady(ready bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !ready || c.everReady {
		return
	}
	c.everReady = true
	for s := range c.subs {
		s.pushLocked(readiness.Change{From: 0, To: c.applied, Initial: true})
	}
}

// Subscribe returns a new Subscription. If the node has already been Ready,
// its channel immediately holds an Initial Change covering (0, A]; otherwise
// it receives one at the first Ready. After Close the Subscription's channel
// is already closed.
func (c *Coalescer) Subscribe() *Subscription {
	s := &Subscription{c: c, ch: make(chan readiness.Change, 1)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.closeLocked()
		return s
	}
	c.subs[s] = struct{}{}
	if c.everReady {
		s.pushLocked(readiness.Change{From: 0, To: c.applied, Initial: true})
	}
	return s
}

// Close stops the pending timer, closes every subscription's channel (a
// change not yet read stays readable before the close is seen) and makes
// later calls no-ops. It is idempotent and does not block.
func (c *Coalescer) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	for s := range c.subs {
		s.closeLocked()
	}
	clear(c.subs)
}

// flush runs when the window ends and hands each subscriber the range it
// has not seen yet.
func (c *Coalescer) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timer = nil
	if c.closed {
		return
	}
	for s := range c.subs {
		if s.sent < c.applied {
			s.pushLocked(readiness.Change{From: s.sent, To: c.applied})
		}
	}
}

// Subscription receives the Changes of one subscriber. It implements
// readiness.Subscription.
type Subscription struct {
	c  *Coalescer
	ch chan readiness.Change
	// sent and closed are guarded by c.mu.
	sent   uint64 // To of the last Change pushed
	closed bool
}

// C returns the channel of Changes. It has a buffer of one; a Change not yet
// read is merged with the next (From = min, To = max, Initial = either), so
// a slow reader never loses a range and never blocks the producer. The
// channel is closed by Close or Coalescer.Close.
func (s *Subscription) C() <-chan readiness.Change { return s.ch }

// Close ends the subscription and closes its channel. It is idempotent.
func (s *Subscription) Close() {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	delete(s.c.subs, s)
	s.closeLocked()
}

// pushLocked queues ch, merging it with an unread change. Only holders of
// c.mu send, so after taking the unread change the send cannot block.
func (s *Subscription) pushLocked(ch readiness.Change) {
	if s.closed {
		return
	}
	select {
	case pending := <-s.ch:
		ch = merge(pending, ch)
	default:
	}
	s.ch <- ch
	s.sent = max(s.sent, ch.To)
}

func (s *Subscription) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}
