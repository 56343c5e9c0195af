package consistency

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDefaultOptionsAreValid(t *testing.T) {
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatalf("DefaultOptions().Validate() = %v", err)
	}
	if o.Lease.DriftRatio != DefaultDriftRatio || o.Lease.Margin != DefaultMargin {
		t.Fatalf("DefaultOptions().Lease = %+v, want the documented defaults", o.Lease)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Fatalf("zero Options invalid: %v", err)
	}
}

func TestOptionsValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		field string
	}{
		{"negative drift", Options{Lease: LeaseOptions{DriftRatio: -0.1}}, "DriftRatio"},
		{"drift of one half", Options{Lease: LeaseOptions{DriftRatio: 0.5}}, "DriftRatio"},
		{"NaN drift", Options{Lease: LeaseOptions{DriftRatio: math.NaN()}}, "DriftRatio"},
		{"negative margin", Options{Lease: LeaseOptions{Margin: -time.Millisecond}}, "Margin"},
		{"negative cap", Options{Lease: LeaseOptions{MaxDuration: -time.Second}}, "MaxDuration"},
		{"negative staleness", Options{Stale: StaleBounds{MaxStaleness: -1}}, "MaxStaleness"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
}
