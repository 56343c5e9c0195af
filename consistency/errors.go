package consistency

import "errors"

// Sentinel errors of the package. Functions wrap them with %w or return
// typed errors that unwrap to them, so callers test with errors.Is.
var (
	// ErrUnknownLevel is wrapped by ParseLevel, Level.UnmarshalText and
	// Level.MarshalText when the text or value names no read level.
	ErrUnknownLevel = errors.New("consistency: unknown read level")

	// ErrTooStale is returned (as a *TooStaleError) by CheckStale when a
	// Stale read would break the caller's StaleBounds.
	ErrTooStale = errors.New("consistency: read too stale")

	// ErrInvalidObservation is wrapped by CheckStale when the observation
	// cannot be judged (a zero Now while a time bound is set).
	ErrInvalidObservation = errors.New("consistency: invalid observation")

	// ErrInvalidOptions is wrapped by the Validate methods; the message
	// names the offending field.
	ErrInvalidOptions = errors.New("consistency: invalid options")

	// ErrBatcherClosed is returned by Batcher.Do once the Batcher is closed,
	// including to callers that were waiting for a round when Close ran.
	ErrBatcherClosed = errors.New("consistency: batcher closed")

	// ErrNoRoundFunc is returned by Batcher.Do when the Batcher was created
	// with a nil RoundFunc.
	ErrNoRoundFunc = errors.New("consistency: batcher has no round function")
)
