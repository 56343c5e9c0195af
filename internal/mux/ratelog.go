package mux

import (
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Kinds of rate-limited warnings.
const (
	warnEvictIdle = iota
	warnEvictPending
	warnPendingFull
	warnPlaintext
	warnTLSPeer
	warnHandshake
	warnRefused
	warnKinds
)

// warnInterval is the least time between two warnings of one kind; the
// ones in between go to Debug.
const warnInterval = 10 * time.Second

// rateLimiter lets one warning of each kind through per warnInterval, so
// that a flood of bad connections costs one log line, not one per
// connection.
type rateLimiter struct {
	last [warnKinds]atomic.Int64 // unix nanoseconds of the last warning
}

// log writes msg at Warn when no warning of this kind was written in the
// last warnInterval, else at Debug.
func (r *rateLimiter) log(logger hclog.Logger, kind int, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := r.last[kind].Load()
	if (last == 0 || now-last >= int64(warnInterval)) && r.last[kind].CompareAndSwap(last, now) {
		logger.Warn(msg, append(args, "note", "similar events are logged at debug level for the next "+warnInterval.String())...)
		return
	}
	logger.Debug(msg, args...)
}
