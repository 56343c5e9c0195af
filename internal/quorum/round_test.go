package quorum

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
)

func TestQuorum(t *testing.T) {
	for voters, want := range map[int]int{-3: 1, 0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4} {
		if got := Quorum(voters); got != want {
			t.Errorf("Quorum(%d) = %d, want %d", voters, got, want)
		}
	}
}

func TestEvaluateRound(t *testing.T) {
	sentAt := time.Unix(5_000, 0)
	const term = 7
	// With DriftRatio 0.1 and Margin 10ms a RefusesCandidatesFor of 1s promises 890ms.
	opts := consistency.LeaseOptions{DriftRatio: 0.1, Margin: 10 * time.Millisecond}
	ack := func(id string, refuses time.Duration) Ack {
		return Ack{ID: id, Term: term, LeaderID: "a", RefusesCandidatesFor: refuses}
	}
	three := []string{"a", "b", "c"}
	five := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		name          string
		voters        []string
		acks          []Ack
		opts          consistency.LeaseOptions
		wantConfirmed bool
		wantLease     time.Duration // from sentAt; 0 = zero leaseUntil
	}{
		{name: "single voter, no cap: no lease", voters: []string{"a"}, opts: opts, wantConfirmed: true},
		{name: "single voter with cap", voters: []string{"a"}, opts: consistency.LeaseOptions{MaxDuration: time.Second},
			wantConfirmed: true, wantLease: time.Second},
		{name: "three voters, no acks", voters: three, opts: opts},
		{name: "three voters, one ack", voters: three, acks: []Ack{ack("b", time.Second)}, opts: opts,
			wantConfirmed: true, wantLease: 890 * time.Millisecond},
		{name: "three voters, best promise wins", voters: three, opts: opts,
			acks:          []Ack{ack("b", 500*time.Millisecond), ack("c", time.Second)},
			wantConfirmed: true, wantLease: 890 * time.Millisecond},
		{name: "wrong term does not confirm", voters: three, opts: opts,
			acks: []Ack{{ID: "b", Term: term - 1, LeaderID: "a", RefusesCandidatesFor: time.Second},
				{ID: "c", Term: term + 1, RefusesCandidatesFor: time.Second}}},
		{name: "five voters, lease is the second best promise", voters: five, opts: opts,
			acks: []Ack{ack("b", 200*time.Millisecond), ack("c", time.Second),
				ack("d", 800*time.Millisecond), ack("e", 500*time.Millisecond)},
			wantConfirmed: true, wantLease: 710 * time.Millisecond},
		{name: "five voters, duplicate ack counts once", voters: five, opts: opts,
			acks: []Ack{ack("b", time.Second), ack("b", time.Second), ack("b", time.Second)}},
		{name: "duplicate ack: the first one is read", voters: three, opts: opts,
			acks: []Ack{{ID: "b", Term: term - 1}, ack("b", time.Second)}},
		{name: "non-voters and unknown IDs do not count", voters: five, opts: opts,
			acks: []Ack{ack("b", time.Second), ack("x", time.Second), ack("y", time.Second), ack("", time.Second)}},
		{name: "ack carrying self ID does not count", voters: three, opts: opts,
			acks: []Ack{ack("a", time.Second)}},
		{name: "leader mismatch confirms without lease", voters: three, opts: opts,
			acks:          []Ack{{ID: "b", Term: term, LeaderID: "", RefusesCandidatesFor: time.Second}, {ID: "c", Term: term, LeaderID: "z", RefusesCandidatesFor: time.Second}},
			wantConfirmed: true},
		{name: "five voters, too few promises for a lease", voters: five, opts: opts,
			acks:          []Ack{ack("b", time.Second), {ID: "c", Term: term, LeaderID: "a"}},
			wantConfirmed: true},
		{name: "drift and margin can eat the whole promise", voters: three, opts: opts,
			acks: []Ack{ack("b", 10*time.Millisecond)}, wantConfirmed: true},
		{name: "cap", voters: three, opts: consistency.LeaseOptions{DriftRatio: 0.1, Margin: 10 * time.Millisecond, MaxDuration: 300 * time.Millisecond},
			acks: []Ack{ack("b", time.Second)}, wantConfirmed: true, wantLease: 300 * time.Millisecond},
		{name: "zero options take the defaults", voters: three, opts: consistency.LeaseOptions{},
			acks: []Ack{ack("b", time.Second)}, wantConfirmed: true, wantLease: 940 * time.Millisecond},
		{name: "invalid options confirm without lease", voters: three, opts: consistency.LeaseOptions{DriftRatio: 0.7},
			acks: []Ack{ack("b", time.Second)}, wantConfirmed: true},
		{name: "self not a voter: needs a quorum of followers", voters: []string{"b", "c", "d"}, opts: opts,
			acks: []Ack{ack("b", time.Second)}},
		{name: "self not a voter: lease is the quorum-th promise", voters: []string{"b", "c", "d"}, opts: opts,
			acks:          []Ack{ack("b", time.Second), ack("c", 500*time.Millisecond)},
			wantConfirmed: true, wantLease: 440 * time.Millisecond},
		{name: "repeated voter IDs count once", voters: []string{"a", "b", "b", "c", ""}, opts: opts,
			acks: []Ack{ack("c", time.Second)}, wantConfirmed: true, wantLease: 890 * time.Millisecond},
		{name: "no voters never confirms", voters: nil, opts: opts, acks: []Ack{ack("b", time.Second)}},
		{name: "negative RefusesCandidatesFor promises nothing", voters: three, opts: opts,
			acks: []Ack{ack("b", -time.Second)}, wantConfirmed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			confirmed, until := EvaluateRound("a", term, tt.voters, sentAt, tt.acks, tt.opts)
			if confirmed != tt.wantConfirmed {
				t.Errorf("confirmed = %v, want %v", confirmed, tt.wantConfirmed)
			}
			var want time.Time
			if tt.wantLease > 0 {
				want = sentAt.Add(tt.wantLease)
			}
			if !until.Equal(want) {
				t.Errorf("leaseUntil = sentAt%+v, want sentAt%+v (zero = no lease: %v)",
					until.Sub(sentAt), tt.wantLease, until.IsZero())
			}
		})
	}
}

func TestEvaluateRoundHugeRefusesCandidatesForDoesNotOverflow(t *testing.T) {
	sentAt := time.Unix(5_000, 0)
	acks := []Ack{{ID: "b", Term: 1, LeaderID: "a", RefusesCandidatesFor: math.MaxInt64}}
	confirmed, until := EvaluateRound("a", 1, []string{"a", "b", "c"}, sentAt, acks, consistency.LeaseOptions{DriftRatio: 1e-18})
	if !confirmed || !until.After(sentAt.Add(100*365*24*time.Hour)) {
		t.Fatalf("EvaluateRound = %v, sentAt%+v; want confirmed and a lease far in the future", confirmed, until.Sub(sentAt))
	}
}

// TestEvaluateRoundLeaseIsQuorumSafeAndMaximal checks, on seeded random
// rounds, the property the lease rests on: at leaseUntil-1ns a quorum of
// voters (the leader counting as forever) still promises, and no later
// time is promised by a quorum.
func TestEvaluateRoundLeaseIsQuorumSafeAndMaximal(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	sentAt := time.Unix(5_000, 0)
	opts := consistency.LeaseOptions{DriftRatio: 0.05, Margin: time.Millisecond}
	leased := 0
	for i := 0; i < 2000; i++ {
		n := 1 + rng.Intn(7)
		voters := make([]string, n)
		for j := range voters {
			voters[j] = string(rune('a' + j))
		}
		selfVotes := rng.Intn(4) != 0
		self := "a"
		if !selfVotes {
			self = "z"
		}
		var acks []Ack
		for _, id := range voters {
			if id == self || rng.Intn(5) == 0 {
				continue
			}
			a := Ack{ID: id, Term: 3, LeaderID: self, RefusesCandidatesFor: time.Duration(rng.Intn(1000)) * time.Millisecond}
			if rng.Intn(6) == 0 {
				a.Term = 2
			}
			if rng.Intn(6) == 0 {
				a.LeaderID = ""
			}
			acks = append(acks, a)
		}
		confirmed, until := EvaluateRound(self, 3, voters, sentAt, acks, opts)
		if !confirmed || until.IsZero() {
			continue
		}
		leased++
		promisers := func(at time.Time) int {
			c := 0
			if selfVotes {
				c++
			}
			for _, a := range acks {
				if a.Term == 3 && a.LeaderID == self && !sentAt.Add(promiseFrom(a.RefusesCandidatesFor, opts)).Before(at) {
					c++
				}
			}
			return c
		}
		q := Quorum(n)
		if got := promisers(until); got < q {
			t.Fatalf("round %d: only %d voters promise up to leaseUntil, quorum is %d (acks %+v)", i, got, q, acks)
		}
		if n > 1 || !selfVotes {
			if got := promisers(until.Add(time.Nanosecond)); got >= q {
				t.Fatalf("round %d: a quorum promises past leaseUntil; lease is shorter than it could be (acks %+v)", i, acks)
			}
		}
	}
	if leased < 200 {
		t.Fatalf("only %d of 2000 random rounds produced a lease; the property was barely exercised", leased)
	}
}
