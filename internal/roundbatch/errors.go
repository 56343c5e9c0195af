package roundbatch

import "errors"

// Sentinel errors of Batcher.Do; test them with errors.Is.
var (
	// ErrClosed is returned by Batcher.Do once the Batcher is closed,
	// including to callers that were waiting for a round when Close ran.
	ErrClosed = errors.New("roundbatch: batcher closed")

	// ErrNoRoundFunc is returned by Batcher.Do when the Batcher was created
	// with a nil RoundFunc.
	ErrNoRoundFunc = errors.New("roundbatch: batcher has no round function")
)
