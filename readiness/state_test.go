package readiness_test

import (
	"encoding/json"
	"testing"

	"github.com/raftkit/raftkit/readiness"
)

func TestStateText(t *testing.T) {
	tests := []struct {
		state readiness.State
		want  string
	}{
		{readiness.Starting, "starting"},
		{readiness.Recovering, "recovering"},
		{readiness.Recovered, "recovered"},
		{readiness.CatchingUp, "catching_up"},
		{readiness.Ready, "ready"},
		{readiness.Degraded, "degraded"},
		{readiness.Closed, "closed"},
		{readiness.Removed, "removed"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.state.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			b, err := json.Marshal(tt.state)
			if err != nil || string(b) != `"`+tt.want+`"` {
				t.Fatalf("json.Marshal = %s, %v; want %q", b, err, tt.want)
			}
			var back readiness.State
			if err := json.Unmarshal(b, &back); err != nil || back != tt.state {
				t.Fatalf("json.Unmarshal(%s) = %v, %v; want %v", b, back, err, tt.state)
			}
		})
	}
}

func TestStateTextRejectsUnknown(t *testing.T) {
	bogus := readiness.State(42)
	if got := bogus.String(); got != "state(42)" {
		t.Errorf("String() = %q, want state(42)", got)
	}
	if _, err := bogus.MarshalText(); err == nil {
		t.Error("MarshalText of an unknown state succeeded")
	}
	s := readiness.Ready
	if err := s.UnmarshalText([]byte("sleeping")); err == nil || s != readiness.Ready {
		t.Errorf("UnmarshalText(sleeping) = %v, left %v; want an error and Ready unchanged", err, s)
	}
}
