package rpc

import (
	"context"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/testutil"
)

// TestServerCloseAnswersWhatItReadAndDisownsTheRest: a closing server
// stops reading, lets the handlers of the requests it read answer, and
// tells the client that nothing else was read. A call answered during the
// close succeeds; a call whose request was written but never read fails
// with ErrNotSent (safe to send elsewhere), not ErrNoResponse.
func TestServerCloseAnswersWhatItReadAndDisownsTheRest(t *testing.T) {
	h := newBlockingHandler()
	// One request in flight per connection: the second is written but
	// stays unread while the first is handled.
	ts := startServer(t, h.serve, serverSetup{opts: ServerOptions{MaxInFlightPerConn: 1}})
	c := newClient(t, ClientOptions{ConnsPerAddr: 1})
	callOK(t, c, ts.addr, "warm up")

	slow := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), ts.addr, frame("slow"))
		slow <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "the slow handler to start", func() bool { return h.enteredCount() == 1 })
	unread := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), ts.addr, frame("unread"))
		unread <- err
	}()
	testutil.WaitFor(t, 5*time.Second, "the second request to be written", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		p := c.peers[ts.addr]
		return p != nil && len(p.conns) == 1 && p.conns[0].unanswered.Load() == 2
	})

	closed := make(chan error, 1)
	go func() { closed <- ts.srv.Close() }()
	testutil.WaitFor(t, 5*time.Second, "Close to begin", ts.srv.isClosed)
	close(h.release) // the handler answers during the close

	if err := <-slow; err != nil {
		t.Fatalf("the call being handled when Close began: %v, want its answer", err)
	}
	checkOutcome(t, <-unread, ErrNotSent)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}
