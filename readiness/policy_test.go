package readiness_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/raftkit/raftkit/readiness"
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		policy readiness.Policy
		field  string
	}{
		{"zero", readiness.Policy{}, ""},
		{"all set", readiness.Policy{LeaderLossBound: time.Second, MaxLag: 5, RecoveredGrace: time.Minute}, ""},
		{"negative bound", readiness.Policy{LeaderLossBound: -1}, "LeaderLossBound"},
		{"negative grace", readiness.Policy{RecoveredGrace: -1}, "RecoveredGrace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, readiness.ErrInvalidPolicy) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate: %v, want ErrInvalidPolicy naming %s", err, tt.field)
			}
		})
	}
}
