package staleread

import (
	"errors"
	"fmt"
	"time"

	"github.com/raftkit/raftkit/consistency"
)

// ErrInvalidObservation is wrapped by Check when the observation cannot be
// judged (a zero Now while a time bound is set).
var ErrInvalidObservation = errors.New("staleread: invalid observation")

// Observation is what the node knows about itself at the moment a
// Stale read is judged.
type Observation struct {
	// IsLeader is true on the leader. Its staleness counts from
	// LastQuorumContact: a leader cut off from its quorum may already have
	// been replaced, and its state be older than the new leader's.
	IsLeader bool
	// LastQuorumContact is, on the leader, when the last quorum round that
	// confirmed its leadership in its current term was sent; the zero time
	// means none. Ignored on a follower.
	LastQuorumContact time.Time
	// LeaderKnown is true when the node currently knows a leader.
	LeaderKnown bool
	// LastContact is when the node last heard from the leader (raft's
	// LastContact); the zero time means never. Ignored on the leader.
	LastContact time.Time
	// Applied is the index the application's state machine has finished
	// applying.
	Applied uint64
	// CommitIndex is the highest index the node knows to be committed.
	CommitIndex uint64
	// Now is the current time on the same clock as LastContact and
	// LastQuorumContact.
	Now time.Time
}

// Check decides whether a Stale read may be served under bounds b
// given observation o. It never blocks and has no side effects.
//
// On a follower the staleness is o.Now − o.LastContact; on the leader it is
// o.Now − o.LastQuorumContact, since a leader cut off from its quorum may
// have been replaced without knowing it. A time in the future counts as 0.
// A follower that knows no leader or has a zero LastContact, and a leader
// with a zero LastQuorumContact, are infinitely stale, which matters only
// when b.MaxStaleness is set. The lag is o.CommitIndex − o.Applied on
// every node (0 when Applied is ahead).
//
// It returns nil when every set bound holds, a *consistency.TooStaleError (errors.Is
// consistency.ErrTooStale) when one is broken, and an error wrapping
// ErrInvalidObservation when b.MaxStaleness is set and o.Now is the zero
// time while there is a contact to measure from, or wrapping
// consistency.ErrInvalidOptions when b is invalid.
func Check(b consistency.StaleBounds, o Observation) error {
	if err := b.Validate(); err != nil {
		return err
	}
	e := consistency.TooStaleError{MaxStaleness: b.MaxStaleness, MaxLag: b.MaxLag, Leader: o.IsLeader}
	if o.CommitIndex > o.Applied {
		e.Lag = o.CommitIndex - o.Applied
	}
	if b.MaxStaleness > 0 {
		contact, known := o.LastContact, o.LeaderKnown
		if o.IsLeader {
			contact, known = o.LastQuorumContact, true
		}
		switch {
		case !known || contact.IsZero():
			e.NoLeaderContact = true
		case o.Now.IsZero():
			return fmt.Errorf("%w: Observation.Now is the zero time", ErrInvalidObservation)
		default:
			if d := o.Now.Sub(contact); d > 0 {
				e.Staleness = d
			}
		}
	}
	if e.StalenessExceeded() || e.LagExceeded() {
		tooStale := e // allocated only when the read is refused
		return &tooStale
	}
	return nil
}
