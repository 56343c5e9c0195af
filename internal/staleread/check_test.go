package staleread

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
)

func TestCheckStale(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	follower := func(contactAgo time.Duration, applied, commit uint64) Observation {
		return Observation{LeaderKnown: true, LastContact: now.Add(-contactAgo), Applied: applied, CommitIndex: commit, Now: now}
	}
	leader := func(quorumAgo time.Duration, applied, commit uint64) Observation {
		return Observation{IsLeader: true, LeaderKnown: true, LastQuorumContact: now.Add(-quorumAgo), Applied: applied, CommitIndex: commit, Now: now}
	}
	tests := []struct {
		name       string
		bounds     consistency.StaleBounds
		obs        Observation
		wantErr    error    // nil: the read may be served
		wantInMsg  []string // substrings of the error message
		wantStale  time.Duration
		wantNoLead bool
		wantLead   bool // the error says it judged the leader
	}{
		{
			name:   "leader with recent quorum contact",
			bounds: consistency.StaleBounds{MaxStaleness: time.Second},
			obs:    leader(500*time.Millisecond, 10, 10),
		},
		{
			name:   "leader exactly at the bound",
			bounds: consistency.StaleBounds{MaxStaleness: time.Second},
			obs:    leader(time.Second, 10, 10),
		},
		{
			name:      "leader cut off from its quorum",
			bounds:    consistency.StaleBounds{MaxStaleness: time.Second},
			obs:       leader(1500*time.Millisecond, 10, 10),
			wantErr:   consistency.ErrTooStale,
			wantInMsg: []string{"last quorum contact of this leader 1.5s ago", "500ms over the bound of 1s"},
			wantStale: 1500 * time.Millisecond,
			wantLead:  true,
		},
		{
			name:       "leader without quorum contact in its term",
			bounds:     consistency.StaleBounds{MaxStaleness: time.Hour},
			obs:        Observation{IsLeader: true, LeaderKnown: true, LastContact: now, Applied: 10, CommitIndex: 10, Now: now},
			wantErr:    consistency.ErrTooStale,
			wantInMsg:  []string{"no quorum contact of this leader"},
			wantNoLead: true,
			wantLead:   true,
		},
		{
			name:   "leader ignores a follower's LastContact",
			bounds: consistency.StaleBounds{MaxStaleness: time.Second},
			obs: Observation{IsLeader: true, LeaderKnown: true, LastContact: now.Add(-time.Hour),
				LastQuorumContact: now, Applied: 10, CommitIndex: 10, Now: now},
		},
		{
			name:   "leader unbounded without quorum contact",
			bounds: consistency.StaleBounds{},
			obs:    Observation{IsLeader: true, LeaderKnown: true, Applied: 10, CommitIndex: 10, Now: now},
		},
		{
			name:   "leader quorum contact in the future counts as fresh",
			bounds: consistency.StaleBounds{MaxStaleness: time.Millisecond},
			obs:    leader(-time.Minute, 1, 1),
		},
		{
			name:    "leader with zero Now and a time bound",
			bounds:  consistency.StaleBounds{MaxStaleness: time.Second},
			obs:     Observation{IsLeader: true, LastQuorumContact: now},
			wantErr: ErrInvalidObservation,
		},
		{
			name:      "leader lagging its own commit index",
			bounds:    consistency.StaleBounds{MaxLag: 5},
			obs:       Observation{IsLeader: true, LeaderKnown: true, Applied: 10, CommitIndex: 20, Now: now},
			wantErr:   consistency.ErrTooStale,
			wantInMsg: []string{"10 entries behind", "5 over the bound of 5"},
			wantLead:  true,
		},
		{
			name:   "follower fresh",
			bounds: consistency.StaleBounds{MaxStaleness: time.Second, MaxLag: 10},
			obs:    follower(500*time.Millisecond, 95, 100),
		},
		{
			name:   "follower exactly at the bounds",
			bounds: consistency.StaleBounds{MaxStaleness: time.Second, MaxLag: 10},
			obs:    follower(time.Second, 90, 100),
		},
		{
			name:      "follower stale by time",
			bounds:    consistency.StaleBounds{MaxStaleness: time.Second},
			obs:       follower(3500*time.Millisecond, 100, 100),
			wantErr:   consistency.ErrTooStale,
			wantInMsg: []string{"3.5s ago", "2.5s over the bound of 1s"},
			wantStale: 3500 * time.Millisecond,
		},
		{
			name:      "follower lagging",
			bounds:    consistency.StaleBounds{MaxLag: 10},
			obs:       follower(0, 50, 100),
			wantErr:   consistency.ErrTooStale,
			wantInMsg: []string{"50 entries behind", "40 over the bound of 10"},
		},
		{
			name:      "both bounds broken",
			bounds:    consistency.StaleBounds{MaxStaleness: time.Second, MaxLag: 10},
			obs:       follower(2*time.Second, 50, 100),
			wantErr:   consistency.ErrTooStale,
			wantInMsg: []string{"1s over", "40 over"},
			wantStale: 2 * time.Second,
		},
		{
			name:       "no leader known",
			bounds:     consistency.StaleBounds{MaxStaleness: time.Hour},
			obs:        Observation{LastContact: now, Applied: 1, CommitIndex: 1, Now: now},
			wantErr:    consistency.ErrTooStale,
			wantInMsg:  []string{"no leader contact"},
			wantNoLead: true,
		},
		{
			name:       "leader known but never contacted",
			bounds:     consistency.StaleBounds{MaxStaleness: time.Hour},
			obs:        Observation{LeaderKnown: true, Now: now},
			wantErr:    consistency.ErrTooStale,
			wantInMsg:  []string{"no leader contact"},
			wantNoLead: true,
		},
		{
			name:   "no leader, unbounded",
			bounds: consistency.StaleBounds{},
			obs:    Observation{Applied: 1, CommitIndex: 1_000_000, Now: now},
		},
		{
			name:   "no leader, only a lag bound that holds",
			bounds: consistency.StaleBounds{MaxLag: 3},
			obs:    Observation{Applied: 7, CommitIndex: 9},
		},
		{
			name:   "applied ahead of commit index is no lag",
			bounds: consistency.StaleBounds{MaxLag: 1},
			obs:    follower(0, 100, 40),
		},
		{
			name:   "last contact in the future counts as fresh",
			bounds: consistency.StaleBounds{MaxStaleness: time.Millisecond},
			obs:    follower(-time.Minute, 1, 1),
		},
		{
			name:    "zero Now with a time bound",
			bounds:  consistency.StaleBounds{MaxStaleness: time.Second},
			obs:     Observation{LeaderKnown: true, LastContact: now},
			wantErr: ErrInvalidObservation,
		},
		{
			name:    "negative bound",
			bounds:  consistency.StaleBounds{MaxStaleness: -time.Second},
			obs:     follower(0, 1, 1),
			wantErr: consistency.ErrInvalidOptions,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.bounds, tt.obs)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check = %v, want errors.Is %v", err, tt.wantErr)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if tt.wantErr != consistency.ErrTooStale {
				return
			}
			var tse *consistency.TooStaleError
			if !errors.As(err, &tse) {
				t.Fatalf("errors.As(%v, *TooStaleError) failed", err)
			}
			if tse.Staleness != tt.wantStale || tse.NoLeaderContact != tt.wantNoLead || tse.Leader != tt.wantLead {
				t.Errorf("Staleness = %v, NoLeaderContact = %v, Leader = %v; want %v, %v, %v",
					tse.Staleness, tse.NoLeaderContact, tse.Leader, tt.wantStale, tt.wantNoLead, tt.wantLead)
			}
			if tse.MaxStaleness != tt.bounds.MaxStaleness || tse.MaxLag != tt.bounds.MaxLag {
				t.Errorf("error carries bounds %v/%d, want %v/%d", tse.MaxStaleness, tse.MaxLag,
					tt.bounds.MaxStaleness, tt.bounds.MaxLag)
			}
		})
	}
}

// A read Check lets through costs no allocation: the refusal is built only
// when the read is refused.
func TestCheckServedDoesNotAllocate(t *testing.T) {
	b := consistency.StaleBounds{MaxStaleness: time.Second, MaxLag: 10}
	now := time.Now()
	o := Observation{LeaderKnown: true, LastContact: now, Now: now, Applied: 5, CommitIndex: 6}
	var err error
	if n := testing.AllocsPerRun(100, func() { err = Check(b, o) }); n != 0 || err != nil {
		t.Fatalf("a served Check allocates %v times (err %v)", n, err)
	}
}
