package quorum

import (
	"math"
	"slices"
	"time"

	"github.com/raftkit/raftkit/consistency"
)

// Ack is one voter's answer to the leader's confirmation request
// (ConfirmRequest{Term, LeaderID}), as the leader received it.
type Ack struct {
	// ID is the answering server's raft ID.
	ID string
	// Term is the answering server's current raft term.
	Term uint64
	// LeaderID is the leader the answering server currently knows ("" for
	// none).
	LeaderID string
	// RefusesCandidatesFor is how much longer, on the answering server's clock, it
	// will refuse to vote for any other candidate: its last leader contact
	// plus its HeartbeatTimeout minus now, or 0 when it knows no leader.
	// hashicorp/raft followers reject RequestVote while they know a leader
	// (leadership transfer excepted) and forget the leader no sooner than
	// HeartbeatTimeout after their last contact.
	RefusesCandidatesFor time.Duration
}

// Quorum returns the number of voters that make a majority of voters:
// voters/2 + 1. For voters <= 0 it returns 1, so that an empty voter set
// can never be confirmed.
func Quorum(voters int) int {
	if voters <= 0 {
		return 1
	}
	return voters/2 + 1
}

// EvaluateRound decides one confirmation round that the leader selfID, in
// term, sent to every voter at sentAt (on the leader's clock, read before
// sending). voters lists the IDs of the current voting members, self
// included when self is a voter; empty and repeated IDs are ignored. It is
// a pure function: it never blocks and keeps no state.
//
// confirmed is true when the leader (if it is a voter) plus the acks from
// distinct voters with Term == term reach Quorum(number of voters). Acks
// from non-voters, from unknown IDs or carrying selfID do not count; when
// an ID acks more than once only its first ack is read. Each counted voter
// was in term at some moment after sentAt, so no leader of a later term
// could have committed anything before that moment: a commit index read
// before sentAt is a valid read index. This needs no clock assumption.
//
// leaseUntil is the zero time unless confirmed. Each counted ack that also
// names selfID as its leader and has RefusesCandidatesFor > 0 promises that its voter
// refuses other candidates until
//
//	sentAt + RefusesCandidatesFor*(1-DriftRatio) - Margin
//
// on the leader's clock (the voter measured RefusesCandidatesFor no earlier than
// sentAt, on a clock whose rate may differ by DriftRatio). The leader, if a
// voter, refuses other candidates for as long as it leads. A new leader
// needs the votes of a quorum, and every quorum meets any quorum of
// promisers, so leaseUntil is the latest time a quorum (self plus
// Quorum−1 followers, or Quorum followers when self is not a voter) all
// promise, capped at sentAt+MaxDuration when MaxDuration > 0. A
// single-voter cluster has no promises to bound the lease: leaseUntil is
// sentAt+MaxDuration, and the zero time (no lease) when MaxDuration is 0.
// leaseUntil is also the zero time when no promise outlasts sentAt or when
// o fails Validate; zero DriftRatio and Margin take their defaults.
func EvaluateRound(selfID string, term uint64, voters []string, sentAt time.Time, acks []Ack, o consistency.LeaseOptions) (confirmed bool, leaseUntil time.Time) {
	voterSet := make(map[string]bool, len(voters))
	for _, id := range voters {
		if id != "" {
			voterSet[id] = true
		}
	}
	quorum := Quorum(len(voterSet))
	selfVotes := voterSet[selfID]

	count := 0
	if selfVotes {
		count = 1
	}
	var promises []time.Duration // follower promises, as durations from sentAt
	leaseOK := o.Validate() == nil
	o = leaseDefaults(o)
	seen := make(map[string]bool, len(acks))
	for _, a := range acks {
		if a.ID == selfID || !voterSet[a.ID] || seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		if a.Term != term {
			continue
		}
		count++
		if a.LeaderID == selfID && a.RefusesCandidatesFor > 0 {
			promises = append(promises, promiseFrom(a.RefusesCandidatesFor, o))
		}
	}
	if count < quorum {
		return false, time.Time{}
	}
	if !leaseOK {
		return true, time.Time{}
	}

	needed := quorum
	if selfVotes {
		needed--
	}
	var lease time.Duration
	if needed == 0 {
		lease = o.MaxDuration // 0 = no lease
	} else {
		if len(promises) < needed {
			return true, time.Time{}
		}
		slices.SortFunc(promises, func(a, b time.Duration) int { return compareDesc(a, b) })
		lease = promises[needed-1]
		if o.MaxDuration > 0 && lease > o.MaxDuration {
			lease = o.MaxDuration
		}
	}
	if lease <= 0 {
		return true, time.Time{}
	}
	return true, sentAt.Add(lease)
}

// promiseFrom converts a voter's RefusesCandidatesFor into the duration after sentAt
// that the leader may rely on, saturating instead of overflowing.
func promiseFrom(refusesCandidatesFor time.Duration, o consistency.LeaseOptions) time.Duration {
	scaled := float64(refusesCandidatesFor) * (1 - o.DriftRatio)
	var d time.Duration
	if scaled >= math.MaxInt64 {
		d = math.MaxInt64
	} else {
		d = time.Duration(scaled)
	}
	return d - o.Margin
}

func compareDesc(a, b time.Duration) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// leaseDefaults fills the zero fields of o that have defaults, as
// documented on consistency.LeaseOptions.
func leaseDefaults(o consistency.LeaseOptions) consistency.LeaseOptions {
	if o.DriftRatio == 0 {
		o.DriftRatio = consistency.DefaultDriftRatio
	}
	if o.Margin == 0 {
		o.Margin = consistency.DefaultMargin
	}
	return o
}
