package readiness

import (
	"fmt"
	"time"
)

// Defaults for PersistPolicy fields left at zero.
const (
	DefaultPersistEveryEntries uint64 = 1024
	DefaultPersistInterval            = time.Second
)

// PersistPolicy says how often the applied index is written to the record
// file. The zero value uses the defaults. A record is due when the applied
// index has moved past the last persisted one and either EveryEntries
// entries have been applied since, or Interval has passed since the last
// persist. (raftsync also persists at Close, whatever the policy.)
type PersistPolicy struct {
	// EveryEntries persists after this many newly applied entries.
	// 0 means DefaultPersistEveryEntries (1024); 1 persists every entry.
	EveryEntries uint64
	// Interval persists once this much time has passed since the last
	// persist, if anything new was applied. 0 means DefaultPersistInterval
	// (1s); negative is invalid.
	Interval time.Duration
}

// Validate returns nil when p is usable, or an error wrapping
// ErrInvalidPolicy that names the offending field.
func (p PersistPolicy) Validate() error {
	if p.Interval < 0 {
		return fmt.Errorf("%w: PersistPolicy.Interval is %v, must not be negative", ErrInvalidPolicy, p.Interval)
	}
	return nil
}
