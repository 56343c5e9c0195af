package faultsuite

import (
	"fmt"
	"sync"
	"time"
)

// OpKind is what a workload operation did.
type OpKind string

// The operations of the workload.
const (
	OpWrite  OpKind = "write"  // Apply of a write
	OpStrong OpKind = "strong" // a Strong read
	OpLease  OpKind = "lease"  // a Lease read
	OpStale  OpKind = "stale"  // a Stale read
)

// Outcome is how an operation ended.
type Outcome string

// The outcomes. A write that failed is, by the library's contract, certain
// not to take effect; an indeterminate one may or may not.
const (
	OK            Outcome = "ok"
	Failed        Outcome = "failed"
	Indeterminate Outcome = "indeterminate"
)

// Op is one operation of the history. Times are nanoseconds since the
// run's start on the monotonic clock.
type Op struct {
	ID     int     `json:"id"`
	Client int     `json:"client"`
	Node   int     `json:"node"` // member index
	Inc    int     `json:"inc"`  // the member's incarnation (0 at first start, +1 per restart)
	Kind   OpKind  `json:"kind"`
	Key    string  `json:"key"`
	Value  string  `json:"value"` // written, or read
	Call   int64   `json:"call"`
	Return int64   `json:"return"`
	Result Outcome `json:"outcome"`
	// Index is ApplyResult.Index for a write, ReadInfo.Index for a read.
	Index uint64 `json:"index,omitempty"`
	// DataIndex is, for a read, the FSM's last applied index read in the
	// same critical section as the value: what the read really saw.
	DataIndex uint64 `json:"data_index,omitempty"`
	Err       string `json:"err,omitempty"`
}

// String describes the operation on one line, for failure reports.
func (o Op) String() string {
	s := fmt.Sprintf("op %d client %d node %d/inc %d %s %q", o.ID, o.Client, o.Node, o.Inc, o.Kind, o.Key)
	if o.Value != "" {
		s += fmt.Sprintf("=%q", o.Value)
	}
	s += fmt.Sprintf(" [%v, %v] %s", time.Duration(o.Call), time.Duration(o.Return), o.Result)
	if o.Index != 0 || o.DataIndex != 0 {
		s += fmt.Sprintf(" index=%d data=%d", o.Index, o.DataIndex)
	}
	if o.Err != "" {
		s += " err=" + o.Err
	}
	return s
}

// History collects operations from concurrent clients.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewHistory starts a history whose clock starts now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now returns the history's clock.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add records op and returns its ID.
func (h *History) Add(op Op) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	op.ID = len(h.ops)
	h.ops = append(h.ops, op)
	return op.ID
}

// Ops returns a copy of the operations, in the order they were added.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}
