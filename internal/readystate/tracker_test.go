package readystate_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/internal/readystate"
	"github.com/raftkit/raftkit/readiness"
)

// step is one Update in a scripted sequence: advance the fake clock, then
// observe. A follower's LastContact is set to contactAgo before the
// observation time whenever a leader is named (zero: contact just now).
type step struct {
	advance    time.Duration
	obs        readystate.Observation
	contactAgo time.Duration
	want       readiness.State
	reason     string // substring the Reason must contain ("" for Ready)
}

// synced is a recovered follower of leader n2 that has applied up to the
// sync point 150.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var synced = readystate.Observation{Recovered: true, Applied: 150, Persisted: 100,
	LeaderID: "n2", SyncIndex: 150, SyncKnown: true, CommitIndex: 150}

func with(o readystate.Observation, edit func(*readystate.Observation)) readystate.Observation {
	edit(&o)
	return o
}

func TestTrackerSequences(t *testing.T) {
	noLeader := with(synced, func(o *readystate.Observation) { o.LeaderID, o.SyncKnown = "", false })
	newLeaderNoSync := with(synced, func(o *readystate.Observation) { o.LeaderID, o.SyncKnown = "n3", false })
	newLeaderBehind := with(synced, func(o *readystate.Observation) { o.LeaderID, o.SyncIndex = "n3", 160 })
	newLeaderSynced := with(synced, func(o *readystate.Observation) { o.LeaderID, o.SyncIndex, o.Applied = "n3", 160, 160 })

	tests := []struct {
		name   string
		policy readiness.Policy
		steps  []step
	}{
		{
			name: "start to ready",
			steps: []step{
				{obs: readystate.Observation{}, want: readiness.Starting, reason: "waiting for local recovery"},
				{obs: readystate.Observation{Recovering: true, Applied: 10, Persisted: 100, Progress: "restoring snapshot 1.0/5.0 MB"},
					want: readiness.Recovering, reason: "applied 10 of 100 (restoring snapshot 1.0/5.0 MB)"},
				{obs: readystate.Observation{Recovered: true, Applied: 100, Persisted: 100}, want: readiness.Recovered, reason: "waiting for a leader"},
				{obs: with(synced, func(o *readystate.Observation) { o.Applied, o.SyncKnown = 100, false }),
					want: readiness.Recovered, reason: "waiting for the sync point from leader n2"},
				{obs: with(synced, func(o *readystate.Observation) { o.Applied = 120 }), want: readiness.CatchingUp, reason: "applied 120 of 150"},
				{obs: synced, want: readiness.Ready},
			},
		},
		{
			name: "leader waits for an entry of its term",
			steps: []step{
				{obs: readystate.Observation{Recovered: true, Applied: 90, IsLeader: true, LeaderID: "n1"},
					want: readiness.Recovered, reason: "entry of this leader's term"},
				{obs: readystate.Observation{Recovered: true, Applied: 91, IsLeader: true, LeaderID: "n1", SyncIndex: 91, SyncKnown: true},
					want: readiness.Ready},
				{advance: time.Hour, obs: readystate.Observation{Recovered: true, Applied: 91, IsLeader: true, LeaderID: "n1", SyncIndex: 91, SyncKnown: true},
					want: readiness.Ready},
			},
		},
		{
			name: "leader loss beyond the bound degrades, then recovers",
			steps: []step{
				{obs: synced, want: readiness.Ready},
				{obs: noLeader, want: readiness.Ready},
				{advance: 3 * time.Second, obs: noLeader, want: readiness.Ready},
				{advance: 2 * time.Second, obs: noLeader, want: readiness.Ready},
				{advance: time.Millisecond, obs: noLeader, want: readiness.Degraded, reason: "leader unknown for more than 5s"},
				{advance: time.Second, obs: newLeaderNoSync, want: readiness.Degraded, reason: "waiting for the sync point from leader n3"},
				{obs: newLeaderBehind, want: readiness.Degraded, reason: "applied 150 of sync point 160"},
				{obs: newLeaderSynced, want: readiness.Ready},
			},
		},
		{
			name: "a leader change inside the bound stays ready",
			steps: []step{
				{obs: synced, want: readiness.Ready},
				{advance: time.Second, obs: noLeader, want: readiness.Ready},
				{advance: 2 * time.Second, obs: newLeaderNoSync, want: readiness.Ready},
				{advance: 2 * time.Second, obs: newLeaderBehind, want: readiness.Ready},
				{advance: time.Second, obs: newLeaderSynced, want: readiness.Ready},
			},
		},
		{
			name: "no sync point from a new leader beyond the bound degrades",
			steps: []step{
				{obs: synced, want: readiness.Ready},
				{obs: newLeaderNoSync, want: readiness.Ready},
				{advance: 5*time.Second + time.Millisecond, obs: newLeaderNoSync, want: readiness.Degraded,
					reason: "waiting for the sync point from leader n3 for more than 5s"},
				{obs: newLeaderSynced, want: readiness.Ready},
			},
		},
		{
			name: "lost contact with a known leader degrades",
			steps: []step{
				{obs: synced, want: readiness.Ready},
				{obs: synced, contactAgo: 5 * time.Second, want: readiness.Ready},
				{obs: synced, contactAgo: 6 * time.Second, want: readiness.Degraded, reason: "no contact with leader n2 for more than 5s"},
				{obs: synced, want: readiness.Ready},
			},
		},
		{
			name:   "lag beyond MaxLag degrades",
			policy: readiness.Policy{MaxLag: 100},
			steps: []step{
				{obs: synced, want: readiness.Ready},
				{obs: with(synced, func(o *readystate.Observation) { o.CommitIndex = 250 }), want: readiness.Ready},
				{obs: with(synced, func(o *readystate.Observation) { o.CommitIndex = 251 }), want: readiness.Degraded,
					reason: "applied index 150 is 101 behind commit index 251 (max lag 100)"},
				{obs: with(synced, func(o *readystate.Observation) { o.CommitIndex, o.Applied = 251, 240 }), want: readiness.Ready},
			},
		},
		{
			name: "a degraded node needs full health to be ready again",
			steps: []step{
				{obs: synced, want: readiness.Ready},
				{obs: noLeader, want: readiness.Ready},
				{advance: 6 * time.Second, obs: noLeader, want: readiness.Degraded, reason: "for more than 5s"},
				{obs: newLeaderNoSync, want: readiness.Degraded, reason: "waiting for the sync point"},
				{obs: noLeader, want: readiness.Degraded, reason: "leader unknown"},
				{obs: synced, want: readiness.Ready},
			},
		},
		{
			name: "recovery flags are ignored after the first ready",
			steps: []step{
				{obs: synced, want: readiness.Ready},
				{obs: with(synced, func(o *readystate.Observation) { o.Recovering, o.Recovered = true, false }), want: readiness.Ready},
			},
		},
		{
			name: "removed wins over ready, degraded and startup; closed wins over removed",
			steps: []step{
				{obs: with(synced, func(o *readystate.Observation) { o.Applied = 120 }), want: readiness.CatchingUp},
				{obs: with(synced, func(o *readystate.Observation) { o.Applied, o.Removed = 120, true }),
					want: readiness.Removed, reason: "removed from the cluster configuration"},
				{obs: synced, want: readiness.Ready},
				{obs: with(synced, func(o *readystate.Observation) { o.Removed = true }), want: readiness.Removed, reason: "removed"},
				{advance: time.Hour, obs: with(noLeader, func(o *readystate.Observation) { o.Removed = true }), want: readiness.Removed, reason: "removed"},
				{obs: with(synced, func(o *readystate.Observation) { o.Removed, o.Closed = true, true }), want: readiness.Closed, reason: "closed"},
			},
		},
		{
			name: "a node added back after removal is ready again",
			steps: []step{
				{obs: synced, want: readiness.Ready},
				{obs: with(synced, func(o *readystate.Observation) { o.Removed = true }), want: readiness.Removed, reason: "removed"},
				{obs: synced, want: readiness.Ready},
			},
		},
		{
			name: "closed wins and is final",
			steps: []step{
				{obs: readystate.Observation{Recovering: true}, want: readiness.Recovering},
				{obs: readystate.Observation{Recovering: true, Closed: true}, want: readiness.Closed, reason: "closed"},
				{obs: synced, want: readiness.Closed, reason: "closed"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(epoch)
			tr := readystate.NewTracker(tt.policy, clk)
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				o := s.obs
				if o.LeaderID != "" && !o.IsLeader {
					o.LastContact = clk.Now().Add(-s.contactAgo)
				}
				got := tr.Update(o)
				if got.State != s.want || !strings.Contains(got.Reason, s.reason) {
					t.Fatalf("step %d: state %v (%q), want %v containing %q", i, got.State, got.Reason, s.want, s.reason)
				}
				if got.State != readiness.Ready && got.Reason == "" {
					t.Fatalf("step %d: state %v has no reason", i, got.State)
				}
				if !got.ReadyInvariantHolds() {
					t.Fatalf("step %d: invariant broken: %+v", i, got)
				}
				if tr.Status() != got {
					t.Fatalf("step %d: Status() = %+v, Update returned %+v", i, tr.Status(), got)
				}
			}
		})
	}
}

func TestTrackerTimestamps(t *testing.T) {
	clk := clock.NewFake(epoch)
	tr := readystate.NewTracker(readiness.Policy{}, clk)
	if s := tr.Status(); s.State != readiness.Starting || !s.Since.Equal(epoch) {
		t.Fatalf("new tracker: %+v, want Starting since %v", s, epoch)
	}
	clk.Advance(time.Second)
	tr.Update(readystate.Observation{Recovered: true, Applied: 5})
	clk.Advance(time.Second)
	s := tr.Update(readystate.Observation{Recovered: true, Applied: 6})
	if !s.Since.Equal(epoch.Add(time.Second)) || !s.RecoveredAt.Equal(epoch.Add(time.Second)) {
		t.Fatalf("Since %v, RecoveredAt %v; both want the first Recovered update at +1s", s.Since, s.RecoveredAt)
	}
	clk.Advance(time.Second)
	s = tr.Update(synced)
	if !s.ReadyAt.Equal(epoch.Add(3*time.Second)) || !s.Since.Equal(s.ReadyAt) {
		t.Fatalf("ReadyAt %v, Since %v; want +3s", s.ReadyAt, s.Since)
	}
	clk.Advance(10 * time.Second)
	tr.Update(with(synced, func(o *readystate.Observation) { o.LeaderID = "" }))
	clk.Advance(10 * time.Second)
	s = tr.Update(with(synced, func(o *readystate.Observation) { o.LeaderID = "" }))
	if s.State != readiness.Degraded || !s.Since.Equal(clk.Now()) {
		t.Fatalf("after 10s without a leader: %+v; want Degraded since now", s)
	}
	clk.Advance(time.Second)
	s = tr.Update(with(synced, func(o *readystate.Observation) { o.LastContact = clk.Now() }))
	if s.State != readiness.Ready || !s.ReadyAt.Equal(epoch.Add(3*time.Second)) || !s.Since.Equal(clk.Now()) {
		t.Fatalf("back to Ready: %+v; want ReadyAt kept at +3s and Since now", s)
	}
}

// TestPolicyDefaults: zero Policy fields take the documented defaults.
func TestPolicyDefaults(t *testing.T) {
	got := readystate.NewTracker(readiness.Policy{}, nil).Policy()
	if got.LeaderLossBound != readiness.DefaultLeaderLossBound || got.MaxLag != readiness.DefaultMaxLag || got.RecoveredGrace != 0 {
		t.Fatalf("defaults: %+v", got)
	}
}

// TestTrackerInvariantUnderRandomObservations drives trackers with random
// observations and clock steps and checks every status they emit, through
// every channel, against the invariants.
func TestTrackerInvariantUnderRandomObservations(t *testing.T) {
	readySeen := 0
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed*7919))
		clk := clock.NewFake(epoch)
		tr := readystate.NewTracker(readiness.Policy{LeaderLossBound: time.Second, MaxLag: 50}, clk)
		var emitted []readiness.Status
		tr.OnChange(func(_, s readiness.Status) { emitted = append(emitted, s) })
		watch, cancel := tr.Watch()
		everReady, closed := false, false
		for i := 0; i < 400; i++ {
			clk.Advance(time.Duration(rng.IntN(700)) * time.Millisecond)
			o := randomObservation(rng, clk.Now())
			if i == 399 {
				o.Closed = true
			}
			s := tr.Update(o)
			select {
			case w := <-watch:
				emitted = append(emitted, w)
			default:
			}
			emitted = append(emitted, s)
			for _, e := range emitted {
				if !e.ReadyInvariantHolds() {
					t.Fatalf("seed %d step %d: invariant broken by %+v (from %+v)", seed, i, e, o)
				}
			}
			emitted = emitted[:0]
			switch {
			case closed && s.State != readiness.Closed:
				t.Fatalf("seed %d step %d: left Closed for %v", seed, i, s.State)
			case everReady && s.State != readiness.Ready && s.State != readiness.Degraded && s.State != readiness.Closed:
				t.Fatalf("seed %d step %d: state %v after the first Ready", seed, i, s.State)
			case s.State != readiness.Ready && s.Reason == "":
				t.Fatalf("seed %d step %d: state %v without a reason", seed, i, s.State)
			}
			if s.State == readiness.Ready {
				everReady = true
				readySeen++
			}
			closed = s.State == readiness.Closed
		}
		cancel()
	}
	if readySeen == 0 {
		t.Fatal("no random sequence ever reached Ready; the generator does not exercise the rule")
	}
}

func randomObservation(rng *rand.Rand, now time.Time) readystate.Observation {
	applied := uint64(rng.IntN(200))
	o := readystate.Observation{
		Recovering:  rng.IntN(10) == 0,
		Recovered:   rng.IntN(10) < 8,
		Applied:     applied,
		Persisted:   uint64(rng.IntN(200)),
		SyncKnown:   rng.IntN(10) < 7,
		SyncIndex:   applied + uint64(rng.IntN(40)) - min(applied, 20),
		CommitIndex: applied + uint64(rng.IntN(70)),
		Closed:      rng.IntN(500) == 0,
	}
	switch rng.IntN(10) {
	case 0, 1:
	case 2:
		o.IsLeader, o.LeaderID = true, "n1"
	default:
		o.LeaderID = []string{"n2", "n3"}[rng.IntN(2)]
		if rng.IntN(4) > 0 {
			o.LastContact = now.Add(-time.Duration(rng.IntN(1500)) * time.Millisecond)
		}
	}
	return o
}
