package appliedrecord_test

import (
	"testing"
	"time"

	"github.com/raftkit/raftkit/internal/appliedrecord"
	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/readiness"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestThrottleDue(t *testing.T) {
	policy := readiness.PersistPolicy{EveryEntries: 100, Interval: time.Second}
	tests := []struct {
		name    string
		policy  readiness.PersistPolicy
		last    uint64
		elapsed time.Duration
		applied uint64
		want    bool
	}{
		{"nothing new", policy, 50, time.Hour, 50, false},
		{"below last persisted", policy, 50, time.Hour, 10, false},
		{"few entries, little time", policy, 50, 999 * time.Millisecond, 149, false},
		{"entry threshold reached", policy, 50, 0, 150, true},
		{"interval reached", policy, 50, time.Second, 51, true},
		{"defaults: 1023 entries", readiness.PersistPolicy{}, 0, 0, 1023, false},
		{"defaults: 1024 entries", readiness.PersistPolicy{}, 0, 0, 1024, true},
		{"defaults: one second", readiness.PersistPolicy{}, 0, time.Second, 1, true},
		{"every entry", readiness.PersistPolicy{EveryEntries: 1}, 7, 0, 8, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(epoch)
			th := appliedrecord.NewThrottle(tt.policy, clk, tt.last)
			clk.Advance(tt.elapsed)
			if got := th.Due(tt.applied); got != tt.want {
				t.Fatalf("Due(%d) after %v from %d = %v, want %v", tt.applied, tt.elapsed, tt.last, got, tt.want)
			}
		})
	}
}

func TestThrottlePersistedRestartsBothRules(t *testing.T) {
	clk := clock.NewFake(epoch)
	th := appliedrecord.NewThrottle(readiness.PersistPolicy{EveryEntries: 10, Interval: time.Second}, clk, 0)
	clk.Advance(2 * time.Second)
	if !th.Due(5) {
		t.Fatal("Due(5) after the interval = false")
	}
	th.Persisted(5)
	if th.LastPersisted() != 5 {
		t.Fatalf("LastPersisted = %d, want 5", th.LastPersisted())
	}
	if th.Due(14) {
		t.Fatal("Due(14) right after persisting 5 = true; neither rule holds")
	}
	if !th.Due(15) {
		t.Fatal("Due(15) after persisting 5 = false; 10 entries were applied")
	}
	clk.Advance(time.Second)
	if !th.Due(6) {
		t.Fatal("Due(6) one interval after persisting 5 = false")
	}
}
