package snapshot

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestPolicyValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Policy)
		field string // "" means valid
	}{
		{"default", func(*Policy) {}, ""},
		{"zero trailing logs", func(p *Policy) { p.TrailingLogs = 0 }, ""},
		{"minimum interval", func(p *Policy) { p.Interval = 5 * time.Millisecond }, ""},
		{"zero threshold", func(p *Policy) { p.Threshold = 0 }, "Policy.Threshold"},
		{"zero interval", func(p *Policy) { p.Interval = 0 }, "Policy.Interval"},
		{"negative interval", func(p *Policy) { p.Interval = -time.Second }, "Policy.Interval"},
		{"interval under raft's minimum", func(p *Policy) { p.Interval = 4 * time.Millisecond }, "Policy.Interval"},
		{"zero retain", func(p *Policy) { p.Retain = 0 }, "Policy.Retain"},
		{"negative retain", func(p *Policy) { p.Retain = -1 }, "Policy.Retain"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			tc.edit(&p)
			err := p.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want ErrInvalidPolicy naming %s", err, tc.field)
			}
		})
	}
	if err := (Policy{}).Validate(); err == nil {
		t.Error("zero Policy validated")
	}
}

func TestPolicyApplyTo(t *testing.T) {
	p := Policy{Threshold: 77, Interval: 3 * time.Second, TrailingLogs: 99, Retain: 4}
	c := raft.DefaultConfig()
	before := *c
	p.ApplyTo(c)
	if c.SnapshotThreshold != 77 || c.SnapshotInterval != 3*time.Second || c.TrailingLogs != 99 {
		t.Errorf("ApplyTo set threshold %d, interval %v, trailing %d", c.SnapshotThreshold, c.SnapshotInterval, c.TrailingLogs)
	}
	c.SnapshotThreshold, c.SnapshotInterval, c.TrailingLogs = before.SnapshotThreshold, before.SnapshotInterval, before.TrailingLogs
	if c.HeartbeatTimeout != before.HeartbeatTimeout || c.ElectionTimeout != before.ElectionTimeout || c.MaxAppendEntries != before.MaxAppendEntries {
		t.Error("ApplyTo changed fields outside the snapshot settings")
	}

	// The default policy yields a configuration raft itself accepts.
	c = raft.DefaultConfig()
	c.LocalID = "n1"
	DefaultPolicy().ApplyTo(c)
	if err := raft.ValidateConfig(c); err != nil {
		t.Errorf("raft rejects the default policy: %v", err)
	}
	if _, err := raft.NewFileSnapshotStore(t.TempDir(), DefaultPolicy().Retain, nil); err != nil {
		t.Errorf("raft rejects the default Retain: %v", err)
	}
}

func TestDefaultPolicyKeepsLogBackToPreviousSnapshot(t *testing.T) {
	// The fallback argument in DefaultPolicy's doc needs the trailing log to
	// span more than one threshold's worth of entries.
	p := DefaultPolicy()
	if p.TrailingLogs < 2*p.Threshold || p.Retain < 2 {
		t.Errorf("DefaultPolicy %+v: TrailingLogs should be at least 2×Threshold and Retain at least 2", p)
	}
}
