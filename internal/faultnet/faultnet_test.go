package faultnet

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
	"time"
)

func TestBytesCrossIntactBothWays(t *testing.T) {
	n := New()
	defer n.Close()
	srv := newServer(t, n, "b")
	c := dial(t, n, "a", srv.addr())
	s := srv.accept(t)

	payload := make([]byte, 1<<20) // many chunks
	rand.Read(payload)
	go c.Write(payload)
	if got := readN(t, s, len(payload)); !bytes.Equal(got, payload) {
		t.Fatal("1 MiB from dialler to target arrived altered")
	}
	go s.Write(payload)
	if got := readN(t, c, len(payload)); !bytes.Equal(got, payload) {
		t.Fatal("1 MiB from target to dialler arrived altered")
	}
	if c.RemoteAddr().String() != srv.addr() {
		t.Fatalf("RemoteAddr %v, want the target's %v", c.RemoteAddr(), srv.addr())
	}
	if st := n.Stats(); st.Dials != 1 || st.ConnsClosed != 0 {
		t.Fatalf("stats %+v, want one dial and nothing closed", st)
	}
}

func TestCloseIsDeliveredAfterTheBytesBeforeIt(t *testing.T) {
	n := New()
	defer n.Close()
	srv := newServer(t, n, "b")
	c := dial(t, n, "a", srv.addr())
	s := srv.accept(t)
	write(t, s, []byte("last words"))
	s.Close()
	if got := closedWithin(t, c); string(got) != "last words" {
		t.Fatalf("read %q before the close, want %q", got, "last words")
	}
}

func TestCutRefusesDialsAndClosesConnections(t *testing.T) {
	n := New()
	defer n.Close()
	srvB := newServer(t, n, "b")
	srvA := newServer(t, n, "a")
	ab := dial(t, n, "a", srvB.addr())
	ba := dial(t, n, "b", srvA.addr())
	if err := n.Cut("a", "b"); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, ab)
	closedWithin(t, ba)
	for _, d := range []struct{ from, addr string }{{"a", srvB.addr()}, {"b", srvA.addr()}} {
		if _, err := tryDial(n, d.from, d.addr); !errors.Is(err, ErrCut) {
			t.Fatalf("dial %s -> %s across a cut: %v, want ErrCut", d.from, d.addr, err)
		}
	}
	if err := n.Uncut("b", "a"); err != nil {
		t.Fatal(err)
	}
	srvB.accept(t) // the first connection, closed by the cut
	c := dial(t, n, "a", srvB.addr())
	s := srvB.accept(t)
	write(t, c, []byte("x"))
	if got := readN(t, s, 1); string(got) != "x" {
		t.Fatalf("after Uncut got %q", got)
	}
	if st := n.Stats(); st.DialsRefused != 2 || st.ConnsClosed != 2 {
		t.Fatalf("stats %+v, want 2 refused dials and 2 closed connections", st)
	}
}

func TestBlockIsOneWayLikeAStatefulFirewall(t *testing.T) {
	n := New()
	defer n.Close()
	srvA := newServer(t, n, "a")
	srvB := newServer(t, n, "b")
	ab := dial(t, n, "a", srvB.addr())
	ba := dial(t, n, "b", srvA.addr())
	sba := srvA.accept(t)
	if err := n.Block("a", "b"); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, ab)
	if _, err := tryDial(n, "a", srvB.addr()); !errors.Is(err, ErrBlocked) {
		t.Fatalf("dial a -> b across the block: %v, want ErrBlocked", err)
	}
	// The connection b opened carries both ways, and b can open more.
	write(t, ba, []byte("ping"))
	if got := readN(t, sba, 4); string(got) != "ping" {
		t.Fatalf("b -> a got %q", got)
	}
	write(t, sba, []byte("pong"))
	if got := readN(t, ba, 4); string(got) != "pong" {
		t.Fatalf("reply a -> b on b's connection got %q", got)
	}
	dial(t, n, "b", srvA.addr())
	if err := n.Unblock("a", "b"); err != nil {
		t.Fatal(err)
	}
	dial(t, n, "a", srvB.addr())
}

func TestStallHoldsOneDirectionAndDeliversInOrderAfter(t *testing.T) {
	n := New()
	defer n.Close()
	srv := newServer(t, n, "b")
	c := dial(t, n, "a", srv.addr())
	s := srv.accept(t)
	if err := n.Stall("a", "b"); err != nil {
		t.Fatal(err)
	}
	write(t, c, []byte("held-1 "))
	write(t, c, []byte("held-2"))
	nothingWithin(t, s, 300*time.Millisecond)
	write(t, s, []byte("flows")) // the other direction is untouched
	if got := readN(t, c, 5); string(got) != "flows" {
		t.Fatalf("b -> a during a stall of a -> b got %q", got)
	}
	if err := n.Unstall("a", "b"); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, 13); string(got) != "held-1 held-2" {
		t.Fatalf("after Unstall got %q, want the held bytes in order", got)
	}
	if n.Stats().Held == 0 {
		t.Fatal("Stats.Held did not count the held chunk")
	}
}

func TestDelayKeepsOrderWithinAConnection(t *testing.T) {
	n := NewSeeded(7)
	defer n.Close()
	srv := newServer(t, n, "b")
	c := dial(t, n, "a", srv.addr())
	s := srv.accept(t)
	const base = 30 * time.Millisecond
	if err := n.SetDelay("a", "b", base, 40*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	const msgs = 100
	start := time.Now()
	go func() {
		for i := range msgs {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(i))
			if _, err := c.Write(b[:]); err != nil {
				return
			}
		}
	}()
	first := readN(t, s, 4)
	if elapsed := time.Since(start); elapsed < base {
		t.Fatalf("first message arrived after %v, before the %v delay", elapsed, base)
	}
	rest := readN(t, s, 4*(msgs-1))
	all := append(first, rest...)
	for i := range msgs {
		if got := binary.BigEndian.Uint32(all[4*i:]); got != uint32(i) {
			t.Fatalf("message %d arrived in position %d: a delay reordered a stream", got, i)
		}
	}
	if n.Stats().Delayed == 0 {
		t.Fatal("Stats.Delayed did not count the delayed chunks")
	}
	// Removing the delay: later bytes are not held back.
	if err := n.SetDelay("a", "b", 0, 0); err != nil {
		t.Fatal(err)
	}
	write(t, c, []byte("now"))
	if got := readN(t, s, 3); string(got) != "now" {
		t.Fatalf("got %q", got)
	}
}

func TestResetRateTruncatesTheStreamThenCloses(t *testing.T) {
	n := NewSeeded(3)
	defer n.Close()
	srv := newServer(t, n, "b")
	c := dial(t, n, "a", srv.addr())
	s := srv.accept(t)
	if err := n.SetResetRate("a", "b", 1); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("0123456789"), 100)
	c.Write(payload) // may fail once the relay has closed
	got := closedWithin(t, s)
	if len(got) >= len(payload) || !bytes.Equal(got, payload[:len(got)]) {
		t.Fatalf("received %d bytes; want a strict prefix of the %d sent", len(got), len(payload))
	}
	if n.Stats().Truncated != 1 {
		t.Fatalf("Stats.Truncated = %d, want 1", n.Stats().Truncated)
	}
	// The link still accepts new connections.
	if err := n.SetResetRate("a", "b", 0); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, n, "a", srv.addr())
	s2 := srv.accept(t)
	write(t, c2, []byte("ok"))
	if got := readN(t, s2, 2); string(got) != "ok" {
		t.Fatalf("got %q", got)
	}
}

func TestResetClosesBothDirectionsOnce(t *testing.T) {
	n := New()
	defer n.Close()
	srvA := newServer(t, n, "a")
	srvB := newServer(t, n, "b")
	newServer(t, n, "c")
	ab := dial(t, n, "a", srvB.addr())
	srvB.accept(t)
	ba := dial(t, n, "b", srvA.addr())
	srvA.accept(t)
	cb := dial(t, n, "c", srvB.addr())
	scb := srvB.accept(t)
	k, err := n.Reset("b", "a")
	if err != nil || k != 2 {
		t.Fatalf("Reset closed %d (%v), want 2", k, err)
	}
	closedWithin(t, ab)
	closedWithin(t, ba)
	write(t, cb, []byte("c still up"))
	if got := readN(t, scb, 10); string(got) != "c still up" {
		t.Fatalf("c's connection, untouched by the reset, got %q", got)
	}
	dial(t, n, "a", srvB.addr()) // new connections are allowed at once
}

func TestPauseHoldsEverythingThenDeliversInOrder(t *testing.T) {
	n := New()
	defer n.Close()
	srvB := newServer(t, n, "b")
	srvA := newServer(t, n, "a")
	ab := dial(t, n, "a", srvB.addr())
	sab := srvB.accept(t)
	if err := n.Pause("b"); err != nil {
		t.Fatal(err)
	}
	if !n.Paused("b") {
		t.Fatal("Paused(b) = false after Pause")
	}
	write(t, ab, []byte("to-b "))
	write(t, sab, []byte("from-b"))
	nothingWithin(t, sab, 200*time.Millisecond)
	nothingWithin(t, ab, 200*time.Millisecond)
	// A connection b opens while paused connects, but carries nothing.
	ba := dial(t, n, "b", srvA.addr())
	sba := srvA.accept(t)
	write(t, ba, []byte("new"))
	nothingWithin(t, sba, 200*time.Millisecond)

	if err := n.Resume("b"); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, sab, 5); string(got) != "to-b " {
		t.Fatalf("b received %q after Resume", got)
	}
	if got := readN(t, ab, 6); string(got) != "from-b" {
		t.Fatalf("a received %q after Resume", got)
	}
	if got := readN(t, sba, 3); string(got) != "new" {
		t.Fatalf("a received %q on b's new connection", got)
	}
}

func TestHealLiftsEveryFault(t *testing.T) {
	n := New()
	defer n.Close()
	srv := newServer(t, n, "b")
	c := dial(t, n, "a", srv.addr())
	srv.accept(t)
	n.Stall("a", "b")
	n.Pause("b")
	n.SetDelay("b", "a", time.Hour, 0)
	n.SetResetRate("a", "b", 1)
	n.Cut("c", "b")
	n.Block("a", "b")
	closedWithin(t, c)
	n.Heal()
	if n.Paused("b") {
		t.Fatal("still paused after Heal")
	}
	c = dial(t, n, "a", srv.addr())
	s := srv.accept(t)
	write(t, c, []byte("up"))
	if got := readN(t, s, 2); string(got) != "up" {
		t.Fatalf("a -> b after Heal got %q", got)
	}
	write(t, s, []byte("down"))
	if got := readN(t, c, 4); string(got) != "down" {
		t.Fatalf("b -> a after Heal got %q", got)
	}
	if _, err := tryDial(n, "c", srv.addr()); err != nil {
		t.Fatalf("dial across a healed cut: %v", err)
	}
}

func TestInvalidArgumentsChangeNothing(t *testing.T) {
	n := New()
	defer n.Close()
	before := n.Debug()
	for name, err := range map[string]error{
		"cut empty":        n.Cut("", "b"),
		"cut self":         n.Cut("a", "a"),
		"block self":       n.Block("a", "a"),
		"stall empty":      n.Stall("a", ""),
		"negative delay":   n.SetDelay("a", "b", -time.Second, 0),
		"negative jitter":  n.SetDelay("a", "b", 0, -1),
		"rate above one":   n.SetResetRate("a", "b", 1.5),
		"rate below zero":  n.SetResetRate("a", "b", -0.1),
		"pause empty":      n.Pause(""),
		"isolate with bad": n.Isolate("a", ""),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := n.Reset("x", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("reset self: %v, want ErrInvalid", err)
	}
	if after := n.Debug(); after != before {
		t.Fatalf("invalid calls changed the network:\nbefore %s\nafter  %s", before, after)
	}
}

func TestCloseEndsConnectionsAndRefusesDials(t *testing.T) {
	n := New()
	srv := newServer(t, n, "b")
	c := dial(t, n, "a", srv.addr())
	srv.accept(t)
	n.Pause("b")
	write(t, c, []byte("stuck"))
	n.Close()
	n.Close() // idempotent
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after Close: %v, want EOF", err)
	}
	if _, err := tryDial(n, "a", srv.addr()); !errors.Is(err, ErrClosed) {
		t.Fatalf("dial after Close: %v, want ErrClosed", err)
	}
}

func TestStallMatchingHoldsOneConnectionFromTheMatchingChunk(t *testing.T) {
	n := New()
	defer n.Close()
	srv := newServer(t, n, "b")
	c1 := dial(t, n, "a", srv.addr())
	s1 := srv.accept(t)
	c2 := dial(t, n, "a", srv.addr())
	s2 := srv.accept(t)
	if err := n.StallMatching("a", "b", func(p []byte) bool { return p[0] == '!' }); err != nil {
		t.Fatal(err)
	}
	write(t, c1, []byte("before "))
	if got := readN(t, s1, 7); string(got) != "before " {
		t.Fatalf("before the matching chunk got %q", got)
	}
	write(t, c1, []byte("!held"))
	write(t, c1, []byte(" after"))
	nothingWithin(t, s1, 300*time.Millisecond)
	write(t, c2, []byte("other conn")) // another connection of the same link flows
	if got := readN(t, s2, 10); string(got) != "other conn" {
		t.Fatalf("another connection got %q", got)
	}
	write(t, s1, []byte("back")) // and so does the other direction
	if got := readN(t, c1, 4); string(got) != "back" {
		t.Fatalf("b -> a got %q", got)
	}
	if err := n.UnstallMatching("a", "b"); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s1, 11); string(got) != "!held after" {
		t.Fatalf("after UnstallMatching got %q, want the held bytes in order", got)
	}
	if err := n.StallMatching("a", "b", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("nil match: %v, want ErrInvalid", err)
	}
}

func TestCutOffToNamesFaultsThatKeepBytesOut(t *testing.T) {
	n := New()
	defer n.Close()
	faults := []struct {
		name      string
		set, lift func() error
		cutOff    []string // members CutOffTo reports while the fault holds
	}{
		{"cut", func() error { return n.Cut("a", "b") }, func() error { return n.Uncut("a", "b") }, []string{"a", "b"}},
		{"block", func() error { return n.Block("a", "b") }, func() error { return n.Unblock("a", "b") }, []string{"b"}},
		{"stall", func() error { return n.Stall("a", "b") }, func() error { return n.Unstall("a", "b") }, []string{"b"}},
		{"pause", func() error { return n.Pause("a") }, func() error { return n.Resume("a") }, []string{"a", "b", "c"}},
		{"delay", func() error { return n.SetDelay("a", "b", time.Second, 0) }, func() error { return n.SetDelay("a", "b", 0, 0) }, nil},
	}
	for _, f := range faults {
		if err := f.set(); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"a", "b", "c"} {
			if got, want := n.CutOffTo(m), slices.Contains(f.cutOff, m); got != want {
				t.Errorf("%s: CutOffTo(%s) = %v, want %v", f.name, m, got, want)
			}
		}
		if err := f.lift(); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"a", "b", "c"} {
			if n.CutOffTo(m) {
				t.Errorf("%s lifted: CutOffTo(%s) = true", f.name, m)
			}
		}
	}
}
