package quorum

import (
	"sync"
	"time"

	"github.com/raftkit/raftkit/internal/clock"
)

// Lease holds the leader's read lease: until when, in which term, no
// other node can become leader. It is safe for concurrent use and no method blocks
// beyond a short internal lock. The zero value is not usable; create one
// with NewLease.
//
// The protocol: take a LeaseToken with Begin before sending a confirmation
// round, read the clock for sentAt, send, evaluate the acks with
// EvaluateRound, and Grant the result with the token. Revoke, Suspend and
// VoidUntil void every token taken before them, so a round that was in
// flight when leadership was lost or a transfer began can never grant a
// lease.
type Lease struct {
	clk clock.Clock

	mu        sync.Mutex
	term      uint64
	until     time.Time
	epoch     uint64 // bumped by Revoke, Suspend, resume and VoidUntil; tokens carry it
	suspended int    // Suspend calls not yet resumed
	voidTerm  uint64 // VoidUntil: no lease in a term <= voidTerm ...
	voidUntil time.Time
}

// LeaseToken identifies a round begun with Lease.Begin. Its zero
// value is never accepted by Grant.
type LeaseToken struct {
	epoch uint64
	at    time.Time // the clock when Begin was called
}

// NewLease returns a Lease with no lease held, reading time from clk
// (nil means the system clock).
func NewLease(clk clock.Clock) *Lease {
	return &Lease{clk: clock.OrReal(clk), epoch: 1}
}

// Begin returns the token for a round about to be sent. Take it BEFORE
// reading sentAt and sending the round: a Revoke or Suspend after Begin
// voids that round's Grant. Begin never blocks.
func (l *Lease) Begin() LeaseToken {
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return LeaseToken{epoch: l.epoch, at: now}
}

// Grant records that the round begun with tok established a lease in term
// until until. Within the held term it extends the lease and never
// shortens it; a later term replaces the lease. Grant reports false, and
// changes nothing, when the lease was revoked or suspended (or resumed)
// since tok was taken, when a suspension is in force, when tok is the zero
// token, when term is older than the term already held, or when the round
// began before the end of a VoidUntil that covers term. Never blocks.
func (l *Lease) Grant(tok LeaseToken, term uint64, until time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tok.epoch == 0 || tok.epoch != l.epoch || l.suspended > 0 || term < l.term {
		return false
	}
	if term <= l.voidTerm && tok.at.Before(l.voidUntil) {
		return false
	}
	if term > l.term {
		l.term = term
		l.until = until
		return true
	}
	if until.After(l.until) {
		l.until = until
	}
	return true
}

// Valid reports whether a lease is held for term right now: the clock reads
// before its end, the term matches, and no suspension is in force. Never
// blocks.
func (l *Lease) Valid(term uint64) bool { return l.Remaining(term) > 0 }

// Remaining returns how long the lease for term has left, or 0 when Valid
// would report false. Never blocks.
func (l *Lease) Remaining(term uint64) time.Duration {
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.suspended > 0 || term != l.term || l.until.IsZero() {
		return 0
	}
	if term <= l.voidTerm && now.Before(l.voidUntil) {
		return 0
	}
	if d := l.until.Sub(now); d > 0 {
		return d
	}
	return 0
}

// Revoke ends the lease at once and voids the tokens of every round begun
// before it. Call it when leadership is lost, when stepping down, on a
// membership change and at shutdown. Never blocks; calling it again is
// harmless.
func (l *Lease) Revoke() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.until = time.Time{}
	l.epoch++
}

// Suspend ends the lease at once for a leadership transfer, during which
// followers vote for the transfer target despite knowing a leader, so no
// promise holds. While any suspension is in force Valid is false and Grant
// refuses; rounds begun before or during the suspension can never grant.
// After resume the lease stays ended until a new round grants one. resume
// is idempotent and safe to call from any goroutine. Never blocks.
func (l *Lease) Suspend() (resume func()) {
	l.mu.Lock()
	l.until = time.Time{}
	l.epoch++
	l.suspended++
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.suspended--
			l.epoch++
		})
	}
}

// VoidUntil ends the lease at once and keeps every term up to term without
// a lease until the clock reads until: no round begun before until can
// grant a lease in such a term, so the promises a lease rests on are all
// made after until. A later term is not affected. Calls accumulate: the
// highest term and the latest time are kept. It is how a leader covers
// what a leadership transfer can still set off after the transfer itself
// has ended (a TimeoutNow delivered late, a vote granted on a transfer the
// leader confirmed). Never blocks.
func (l *Lease) VoidUntil(term uint64, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.until = time.Time{}
	l.epoch++
	l.voidTerm = max(l.voidTerm, term)
	if until.After(l.voidUntil) {
		l.voidUntil = until
	}
}
