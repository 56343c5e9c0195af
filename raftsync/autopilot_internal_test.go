package raftsync

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
)

func TestFilterRemovalsOneAtATime(t *testing.T) {
	v1, v2 := &autopilot.Server{ID: "v1"}, &autopilot.Server{ID: "v2"}
	n1 := &autopilot.Server{ID: "n1"}
	tests := []struct {
		name     string
		failed   *autopilot.FailedServers
		inFlight bool
		want     []raft.ServerID
	}{
		{"nil", nil, false, nil},
		{"two voters: the first", &autopilot.FailedServers{FailedVoters: []*autopilot.Server{v1, v2}}, false, []raft.ServerID{"v1"}},
		{"non-voter first", &autopilot.FailedServers{FailedVoters: []*autopilot.Server{v1}, FailedNonVoters: []*autopilot.Server{n1}}, false, []raft.ServerID{"n1"}},
		{"in flight: none", &autopilot.FailedServers{FailedVoters: []*autopilot.Server{v1}}, true, nil},
		{"stale never", &autopilot.FailedServers{StaleVoters: []raft.ServerID{"s"}, StaleNonVoters: []raft.ServerID{"t"}}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filterRemovals(tt.failed, tt.inFlight)
			if len(out.StaleVoters)+len(out.StaleNonVoters) != 0 {
				t.Fatalf("stale servers let through: %+v", out)
			}
			var got []raft.ServerID
			for _, s := range append(append([]*autopilot.Server(nil), out.FailedNonVoters...), out.FailedVoters...) {
				got = append(got, s.ID)
			}
			if len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsDead(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const th = time.Minute
	tests := []struct {
		name string
		r    memberRecord
		now  time.Time
		want bool
	}{
		{"new, within threshold", memberRecord{firstSeen: t0}, t0.Add(th), false},
		{"never healthy, past threshold", memberRecord{firstSeen: t0}, t0.Add(th + 1), true},
		{"healthy recently", memberRecord{firstSeen: t0, lastHealthy: t0.Add(2 * th)}, t0.Add(2*th + th), false},
		{"healthy long ago", memberRecord{firstSeen: t0, lastHealthy: t0.Add(th)}, t0.Add(2*th + 1), true},
	}
	for _, tt := range tests {
		if got := isDead(&tt.r, tt.now, th); got != tt.want {
			t.Errorf("%s: isDead = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMembershipTracker(t *testing.T) {
	var m roleTracker
	now := time.Unix(5000, 0)
	if got := m.observe(false, 0, true, now); got.Role != RoleNotMember {
		t.Fatalf("before join: %+v", got)
	}
	m.joined(true)
	if got := m.observe(false, 0, true, now); got.Role != RoleJoiningAsVoter {
		t.Fatalf("joined, configuration not yet here: %+v", got)
	}
	if got := m.observe(true, raft.Nonvoter, true, now); got.Role != RoleJoiningAsVoter {
		t.Fatalf("non-voter waiting: %+v", got)
	}
	got := m.observe(true, raft.Voter, true, now.Add(time.Second))
	if got.Role != RoleVoter || !got.PromotedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("promoted: %+v", got)
	}
	if again := m.observe(true, raft.Voter, true, now.Add(time.Hour)); !again.PromotedAt.Equal(got.PromotedAt) {
		t.Fatalf("promotion time moved: %+v", again)
	}
	var replica roleTracker
	if got := replica.observe(true, raft.Nonvoter, false, now); got.Role != RoleNonVoter || got.String() != "non-voter" {
		t.Fatalf("read replica: %+v", got)
	}
	var bootstrapped roleTracker
	if got := bootstrapped.observe(true, raft.Voter, true, now); !got.PromotedAt.IsZero() {
		t.Fatalf("a voter from the start has a promotion time: %+v", got)
	}
}

func TestAutopilotConfigValidate(t *testing.T) {
	var c AutopilotConfig
	if r := c.validate(); r != "" {
		t.Fatal(r)
	}
	lib := c.library()
	if !lib.CleanupDeadServers || lib.LastContactThreshold != 200*time.Millisecond || lib.MaxTrailingLogs != 250 ||
		lib.MinQuorum != 1 || lib.ServerStabilizationTime != 10*time.Second {
		t.Fatalf("defaults: %+v", lib)
	}
	for _, bad := range []AutopilotConfig{
		{LastContactThreshold: -1},
		{ServerStabilizationTime: -1},
		{DeadServerThreshold: time.Millisecond, LastContactThreshold: time.Second},
	} {
		if r := bad.validate(); r == "" {
			t.Errorf("%+v accepted", bad)
		}
	}
	if c.UpdateInterval != 2*time.Second || c.ReconcileInterval != 10*time.Second {
		t.Fatalf("default intervals %v %v", c.UpdateInterval, c.ReconcileInterval)
	}
	short := AutopilotConfig{ServerStabilizationTime: time.Second}
	short.validate()
	if short.UpdateInterval != 200*time.Millisecond || short.ReconcileInterval != time.Second {
		t.Fatalf("intervals for a 1s stabilization: %v %v", short.UpdateInterval, short.ReconcileInterval)
	}
	keep := AutopilotConfig{KeepDeadServers: true, MinQuorum: 3}
	keep.validate()
	if l := keep.library(); l.CleanupDeadServers || l.MinQuorum != 3 {
		t.Fatalf("%+v", l)
	}
}
