package consistency

import "errors"

// Sentinel errors of the package. Functions wrap them with %w or return
// typed errors that unwrap to them, so callers test with errors.Is.
var (
	// ErrUnknownLevel is wrapped by ParseLevel, Level.UnmarshalText and
	// Level.MarshalText when the text or value names no read level.
	ErrUnknownLevel = errors.New("consistency: unknown read level")

	// ErrTooStale is returned (as a *TooStaleError) by a Stale read that
	// would break its StaleBounds.
	ErrTooStale = errors.New("consistency: read too stale")

	// ErrInvalidOptions is wrapped by the Validate methods; the message
	// names the offending field.
	ErrInvalidOptions = errors.New("consistency: invalid options")
)
