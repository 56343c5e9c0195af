package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Request is one line of input. Fields not used by an op are ignored.
type Request struct {
	Op         string `json:"op"`
	Dir        string `json:"dir,omitempty"`
	Conc       int    `json:"conc,omitempty"`
	On         string `json:"on,omitempty"`
	Mode       string `json:"mode,omitempty"`
	Size       int    `json:"size,omitempty"`
	WarmupMs   int    `json:"warmup_ms,omitempty"`
	DurationMs int    `json:"duration_ms,omitempty"`
	Bytes      int64  `json:"bytes,omitempty"`
	ValueSize  int    `json:"value_size,omitempty"`
}

// Result is what a load run or a timed operation measured. For a load
// run, Ops completed operations started inside the measured window of
// ElapsedNs; P50Ns and P99Ns are their latencies. For a timed operation
// (join) ElapsedNs is the time taken and Ops is 1.
type Result struct {
	Ops       int64 `json:"ops"`
	ElapsedNs int64 `json:"elapsed_ns"`
	P50Ns     int64 `json:"p50_ns"`
	P99Ns     int64 `json:"p99_ns"`
	Errors    int64 `json:"errors"`
	// FirstError is the text of the first failed operation, if any.
	FirstError string `json:"first_error,omitempty"`
}

// Response is one line of output.
type Response struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
	Result *Result `json:"result,omitempty"`
}

// errBadRequest marks a request that cannot be served as given; nothing
// was done.
var errBadRequest = errors.New("etcdpeer: bad request")

// parseRequest decodes and checks one line.
func parseRequest(line []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	switch r.Op {
	case "start":
		if r.Dir == "" {
			return r, fmt.Errorf("%w: start needs dir", errBadRequest)
		}
	case "writes", "reads":
		if r.Conc < 1 || r.Conc > 4096 {
			return r, fmt.Errorf("%w: conc %d not in 1..4096", errBadRequest, r.Conc)
		}
		if r.On != "leader" && r.On != "follower" {
			return r, fmt.Errorf("%w: on must be leader or follower, got %q", errBadRequest, r.On)
		}
		if r.DurationMs < 1 || r.WarmupMs < 0 {
			return r, fmt.Errorf("%w: duration_ms must be positive and warmup_ms not negative", errBadRequest)
		}
		if r.Op == "writes" && (r.Size < 16 || r.Size > 1<<20) {
			return r, fmt.Errorf("%w: size %d not in 16..1MiB", errBadRequest, r.Size)
		}
		if r.Op == "reads" && r.Mode != "linearizable" && r.Mode != "serializable" {
			return r, fmt.Errorf("%w: mode must be linearizable or serializable, got %q", errBadRequest, r.Mode)
		}
	case "join":
		if r.Bytes < 0 || r.ValueSize < 16 || r.ValueSize > 1<<20 {
			return r, fmt.Errorf("%w: join needs bytes >= 0 and value_size in 16..1MiB", errBadRequest)
		}
	case "stop":
	default:
		return r, fmt.Errorf("%w: unknown op %q", errBadRequest, r.Op)
	}
	return r, nil
}

func (r Request) warmup() time.Duration   { return time.Duration(r.WarmupMs) * time.Millisecond }
func (r Request) duration() time.Duration { return time.Duration(r.DurationMs) * time.Millisecond }
