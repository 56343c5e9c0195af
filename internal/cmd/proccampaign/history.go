package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Kind is what an operation did over HTTP.
type Kind string

// The operations of the workload.
const (
	KindWrite  Kind = "write"  // PUT /v1/routes/{key}
	KindStrong Kind = "strong" // GET /v1/routes/{key}?consistency=strong
	KindLease  Kind = "lease"  // GET /v1/routes/{key}?consistency=lease
	KindStale  Kind = "stale"  // GET /v1/routes/{key}?consistency=stale
)

// Outcome is how an operation ended, as the client can know it.
type Outcome string

// The outcomes. A failed operation certainly had no effect; an
// indeterminate write may or may not have taken effect, at any moment
// after its call.
const (
	OK            Outcome = "ok"
	Failed        Outcome = "failed"
	Indeterminate Outcome = "indeterminate"
)

// Op is one HTTP operation of the history. Call and Return are nanoseconds
// since the campaign's start on the monotonic clock; Return is when the
// client learnt the outcome (for an indeterminate write, when it gave up).
type Op struct {
	ID     int     `json:"id"`
	Client int     `json:"client"` // -1 for the final reads
	Node   int     `json:"node"`   // 0-based node index
	Kind   Kind    `json:"kind"`
	Key    string  `json:"key"`
	Value  string  `json:"value"` // written, or read ("" when the route is absent)
	Call   int64   `json:"call"`
	Return int64   `json:"return"`
	Result Outcome `json:"outcome"`
	// Status is the HTTP status, 0 when no response arrived.
	Status int `json:"status,omitempty"`
	// Index is X-Raft-Index: the index a write committed at, or the index
	// a read was served at.
	Index uint64 `json:"index,omitempty"`
	// Modified is, for a successful read, the route's modified_index (0
	// when absent): the version of the key the read saw.
	Modified uint64 `json:"modified,omitempty"`
	// Level is the X-Raft-Consistency a read was answered with.
	Level string `json:"level,omitempty"`
	Final bool   `json:"final,omitempty"` // a read of the final check on the healed cluster
	Err   string `json:"err,omitempty"`
}

func (o Op) String() string {
	s := fmt.Sprintf("op %d client %d node %d %s %q", o.ID, o.Client, o.Node, o.Kind, o.Key)
	if o.Value != "" {
		s += fmt.Sprintf("=%q", o.Value)
	}
	s += fmt.Sprintf(" [%v, %v] %s status=%d index=%d modified=%d", time.Duration(o.Call), time.Duration(o.Return), o.Result, o.Status, o.Index, o.Modified)
	if o.Err != "" {
		s += " err=" + o.Err
	}
	return s
}

// classify turns what the client saw of an exchange into an outcome. err is
// the transport's error (nil when a response arrived), status the HTTP
// status otherwise.
//
// A write is
//   - OK on 200;
//   - Failed when nothing reached the gateway (the dial failed), or on an
//     answer the API documents as "nothing written": 4xx (refused, or a
//     state-machine rejection that changed nothing) and 503 (no leader,
//     not ready, closed: the contract says such a write did not happen);
//   - Indeterminate otherwise: 504 (the API's "outcome unknown"), 500 or
//     any other status nobody documented, and every transport error after
//     the request may have been sent (a timeout, a reset, EOF, the process
//     killed or paused mid-request).
//
// A read has no effect, so an unsuccessful one is simply left out of the
// checks: it is OK on 200 and on 404 (the route is absent), Failed on any
// other status or a dial error, Indeterminate on other transport errors
// (kept apart only for the counts).
func classify(kind Kind, status int, err error) Outcome {
	if err != nil {
		if notSent(err) {
			return Failed
		}
		return Indeterminate
	}
	if kind != KindWrite {
		if status == http.StatusOK || status == http.StatusNotFound {
			return OK
		}
		return Failed
	}
	switch {
	case status == http.StatusOK:
		return OK
	case status >= 400 && status < 500, status == http.StatusServiceUnavailable:
		return Failed
	}
	return Indeterminate
}

// notSent reports whether a transport error proves that no byte of the
// request reached a server: the connection was never established. (Go's
// transport re-sends a PUT on a fresh connection only when nothing was
// written on the first, so a dial error is the whole story of the request.)
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
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

// counts is a snapshot of how many operations ended how.
func (h *History) counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := map[string]int{}
	for _, op := range h.ops {
		c[string(op.Kind)+"/"+string(op.Result)]++
	}
	return c
}
