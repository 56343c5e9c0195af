package consistency

import (
	"fmt"
	"strconv"
	"strings"
)

// Level is the consistency guarantee a read asks for. The zero value is
// Strong, the safe default: a read that names no level is linearizable.
type Level int

const (
	// Strong reads are linearizable with no clock assumption: the read sees
	// every write that completed before the read began, on any node.
	//
	// Cost: on the leader, one quorum round trip (shared by all reads that
	// wait at the same moment) plus the wait for the state
	// machine to apply up to the read index; on a follower, one extra round
	// trip to the leader for the read index. With no reachable quorum a
	// Strong read fails rather than answer.
	Strong Level = iota

	// Lease reads are linearizable as long as no two clocks in the cluster
	// run at rates that differ by more than LeaseOptions.DriftRatio (a bound
	// on rate, not on the clocks' offsets, which may be anything).
	//
	// Cost: while the leader holds a lease, a read on the leader costs no
	// network round trip at all, only the wait for the state machine to
	// apply up to the commit index; on a follower it costs one round trip to
	// the leader, which answers from its lease. When the lease has lapsed
	// the read pays for one quorum round, which renews the lease.
	Lease

	// Stale reads see the node's local state as it is, which may lag the
	// cluster; StaleBounds can refuse a read when the node has not heard
	// from the leader for too long (on the leader: from a quorum) or has
	// applied too little of what it knows is committed.
	//
	// Cost: none beyond the read itself. No communication, so Stale reads
	// keep working on a node cut off from the leader, which is the point of
	// them, and scale with the number of nodes. The one exception: with
	// StaleBounds.MaxStaleness set, a leader whose last quorum contact is
	// older than the bound runs one quorum round first.
	Stale
)

// levelNames lists the canonical names in Level order.
var levelNames = [...]string{Strong: "strong", Lease: "lease", Stale: "stale"}

// validLevelNames is the list quoted in parse errors.
var validLevelNames = strings.Join(levelNames[:], ", ")

// maxQuotedInput bounds how much of a bad input is echoed in an error.
const maxQuotedInput = 64

// Levels returns every valid Level, strongest guarantee first.
func Levels() []Level { return []Level{Strong, Lease, Stale} }

// Valid reports whether l is one of Strong, Lease or Stale.
func (l Level) Valid() bool { return l >= Strong && l <= Stale }

// String returns "strong", "lease" or "stale", and "Level(n)" for a value
// that is not a valid Level.
func (l Level) String() string {
	if l.Valid() {
		return levelNames[l]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// ParseLevel returns the Level named by s, matched without regard to case
// ("Strong", "LEASE", "stale"). It never blocks. An empty or unknown name
// returns an error that wraps ErrUnknownLevel and lists the valid names.
func ParseLevel(s string) (Level, error) {
	if s == "" {
		return Strong, fmt.Errorf("%w: empty name (valid: %s)", ErrUnknownLevel, validLevelNames)
	}
	for i, name := range levelNames {
		if strings.EqualFold(s, name) {
			return Level(i), nil
		}
	}
	if len(s) > maxQuotedInput {
		s = s[:maxQuotedInput] + "..."
	}
	return Strong, fmt.Errorf("%w: %q (valid: %s)", ErrUnknownLevel, s, validLevelNames)
}

// MarshalText implements encoding.TextMarshaler with the name String
// returns. An invalid Level returns an error wrapping ErrUnknownLevel, so a
// bad value is never written out as text that cannot be read back.
func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("%w: %s", ErrUnknownLevel, l)
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseLevel's
// rules. On error it returns ParseLevel's error and leaves *l unchanged.
func (l *Level) UnmarshalText(text []byte) error {
	parsed, err := ParseLevel(string(text))
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}
