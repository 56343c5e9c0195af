package raftsync

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// closingStable is an inner stable store that records calls made after
// it was closed (the bolt store raft must never reach once closed) and can
// hold a write in flight.
type closingStable struct {
	raft.StableStore
	closed    atomic.Bool
	afterShut atomic.Int64
	inWrite   chan struct{} // receives when a held write has started
	release   chan struct{} // closed to let the held write finish
}

func (c *closingStable) SetUint64(key []byte, val uint64) error {
	if c.closed.Load() {
		c.afterShut.Add(1)
		return errors.New("database not open")
	}
	if c.inWrite != nil {
		c.inWrite <- struct{}{}
		<-c.release
	}
	return c.StableStore.SetUint64(key, val)
}

// TestStableGuardSealWaitsForWritesAndDropsLaterOnes: seal waits for a
// write in flight (a heartbeat's term bump racing Close), and a write after
// it neither reaches the closed store nor returns an error, on which raft
// would panic; reads after it fail.
func TestStableGuardSealWaitsForWritesAndDropsLaterOnes(t *testing.T) {
	inner := &closingStable{StableStore: raft.NewInmemStore(), inWrite: make(chan struct{}), release: make(chan struct{})}
	g := &stableGuard{StableStore: inner}

	wrote := make(chan error, 1)
	go func() { wrote <- g.SetUint64([]byte("CurrentTerm"), 3) }()
	<-inner.inWrite // the write is in flight
	sealed := make(chan struct{})
	go func() {
		g.seal()
		inner.closed.Store(true) // what closing bolt does next
		close(sealed)
	}()
	// seal must not return while the write is in flight (an absence, so
	// checked for a while rather than waited for).
	select {
	case <-sealed:
		t.Fatal("seal returned while a write was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(inner.release)
	if err := <-wrote; err != nil {
		t.Fatalf("the write in flight: %v", err)
	}
	select {
	case <-sealed:
	case <-time.After(5 * time.Second):
		t.Fatal("seal did not return once the write finished")
	}

	if err := g.SetUint64([]byte("CurrentTerm"), 4); err != nil {
		t.Fatalf("a write after seal returned %v; raft panics on a stable-store error", err)
	}
	if err := g.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatalf("Set after seal: %v", err)
	}
	if n := inner.afterShut.Load(); n != 0 {
		t.Fatalf("%d writes reached the closed store", n)
	}
	if _, err := g.GetUint64([]byte("CurrentTerm")); !errors.Is(err, errStoreSealed) {
		t.Fatalf("GetUint64 after seal: %v, want errStoreSealed", err)
	}
	if _, err := g.Get([]byte("k")); !errors.Is(err, errStoreSealed) {
		t.Fatalf("Get after seal: %v, want errStoreSealed", err)
	}
}
