package faultsuite

import (
	"time"

	"github.com/raftkit/raftkit/internal/clock"
	"github.com/raftkit/raftkit/raftsync"
)

// nodeClock gives a node one of package clock's clocks (a drifting
// clock.Rate) as its raftsync.Config.Clock.
type nodeClock struct{ c clock.Clock }

func (n nodeClock) Now() time.Time { return n.c.Now() }

func (n nodeClock) AfterFunc(d time.Duration, f func()) raftsync.Timer { return n.c.AfterFunc(d, f) }
