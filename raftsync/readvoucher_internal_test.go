package raftsync

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/wire"
)

// TestVoucherStands covers the decision that lets a follower's Strong read
// skip the leader's quorum round. Every row but the first names a way the
// voucher would prove nothing, and must fall back to the round.
func TestVoucherStands(t *testing.T) {
	servers := func(suffrage ...raft.ServerSuffrage) []raft.Server {
		out := make([]raft.Server, len(suffrage))
		for i, s := range suffrage {
			id := raft.ServerID(string(rune('a' + i)))
			out[i] = raft.Server{ID: id, Address: raft.ServerAddress(id), Suffrage: s}
		}
		return out
	}
	three := servers(raft.Voter, raft.Voter, raft.Voter)
	threeCopy := append([]raft.Server(nil), three...) // same servers, another configuration
	twoAndNonvoter := servers(raft.Voter, raft.Voter, raft.Nonvoter)
	five := servers(raft.Voter, raft.Voter, raft.Voter, raft.Voter, raft.Voter)
	two := servers(raft.Voter, raft.Voter)
	aNonvoter := servers(raft.Nonvoter, raft.Voter, raft.Voter)

	const term = 7
	stamp := func(s []raft.Server) *readStamp { return &readStamp{seq: 99, term: term, key: configurationKey(s)} }
	good := wire.ReadVoucher{VoterID: "b", Term: term, Stamp: 99}
	with := func(f func(*wire.ReadVoucher)) wire.ReadVoucher { v := good; f(&v); return v }

	tests := []struct {
		name    string
		v       wire.ReadVoucher
		cur     *readStamp
		servers []raft.Server
		want    bool
	}{
		{"a voter of three, same term, current stamp", good, stamp(three), three, true},
		{"two voters: the pair is the quorum", good, stamp(two), two, true},
		{"three voters, one a non-voter: two of two", good, stamp(twoAndNonvoter), twoAndNonvoter, true},
		{"no stamp issued yet", good, nil, three, false},
		{"voucher without a stamp", with(func(v *wire.ReadVoucher) { v.Stamp = 0 }), stamp(three), three, false},
		{"stamp of another number", with(func(v *wire.ReadVoucher) { v.Stamp = 98 }), stamp(three), three, false},
		{"stamp of an earlier term", good, &readStamp{seq: 99, term: term - 1, key: configurationKey(three)}, three, false},
		{"follower already in a newer term", with(func(v *wire.ReadVoucher) { v.Term = term + 1 }), stamp(three), three, false},
		{"follower in an older term", with(func(v *wire.ReadVoucher) { v.Term = term - 1 }), stamp(three), three, false},
		{"configuration changed since the stamp", good, stamp(three), threeCopy, false},
		{"voucher names the leader itself", with(func(v *wire.ReadVoucher) { v.VoterID = "a" }), stamp(three), three, false},
		{"voucher names nobody", with(func(v *wire.ReadVoucher) { v.VoterID = "" }), stamp(three), three, false},
		{"voucher names a server not in the configuration", with(func(v *wire.ReadVoucher) { v.VoterID = "z" }), stamp(three), three, false},
		{"voucher names a non-voter", with(func(v *wire.ReadVoucher) { v.VoterID = "c" }), stamp(twoAndNonvoter), twoAndNonvoter, false},
		{"five voters: two are not a quorum", good, stamp(five), five, false},
		{"the leader is not a voter of the configuration", good, stamp(aNonvoter), aNonvoter, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := voucherStands(tc.v, "a", term, tc.cur, tc.servers); got != tc.want {
				t.Fatalf("voucherStands = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReadStampsNameConfigurations: a stamp is reused while the term and
// the configuration are the same, and a new number is issued when either
// changes; numbers are never zero, which claims no stamp.
func TestReadStampsNameConfigurations(t *testing.T) {
	s := newReadStamps()
	a := []raft.Server{{ID: "a", Suffrage: raft.Voter}}
	b := append([]raft.Server(nil), a...)
	first := s.stampFor(3, a)
	if first.seq == 0 {
		t.Fatal("stamp number 0")
	}
	if again := s.stampFor(3, a); again != first {
		t.Fatalf("same term and configuration: stamp %d, want %d reused", again.seq, first.seq)
	}
	if other := s.stampFor(3, b); other.seq == first.seq || other.key != configurationKey(b) {
		t.Fatalf("new configuration: stamp %+v, want a new number for it", other)
	}
	if next := s.stampFor(4, b); next.seq == first.seq || next.term != 4 {
		t.Fatalf("new term: stamp %+v, want a new number in term 4", next)
	}
	s.next.Store(^uint64(0)) // the counter wraps: zero is skipped
	if w := s.stampFor(5, b); w.seq == 0 {
		t.Fatal("wrapped to stamp number 0")
	}
}
