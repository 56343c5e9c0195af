package readiness_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/raftkit/raftkit/readiness"
)

func TestPersistPolicyValidate(t *testing.T) {
	if err := (readiness.PersistPolicy{}).Validate(); err != nil {
		t.Fatalf("zero policy: %v", err)
	}
	err := readiness.PersistPolicy{Interval: -time.Second}.Validate()
	if !errors.Is(err, readiness.ErrInvalidPolicy) || !strings.Contains(err.Error(), "Interval") {
		t.Fatalf("negative Interval: err = %v, want ErrInvalidPolicy naming Interval", err)
	}
}
