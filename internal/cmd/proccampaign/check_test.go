package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func TestClassify(t *testing.T) {
	dialErr := &url.Error{Op: "Put", URL: "http://127.0.0.1:1/v1/routes/k", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	resetErr := &url.Error{Op: "Put", URL: "http://127.0.0.1:1/v1/routes/k", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
	timeoutErr := &url.Error{Op: "Put", URL: "http://127.0.0.1:1/v1/routes/k", Err: context.DeadlineExceeded}
	for _, tc := range []struct {
		name   string
		kind   Kind
		status int
		err    error
		want   Outcome
	}{
		{"write acknowledged", KindWrite, http.StatusOK, nil, OK},
		{"write outcome unknown (504)", KindWrite, http.StatusGatewayTimeout, nil, Indeterminate},
		{"write internal error (500)", KindWrite, http.StatusInternalServerError, nil, Indeterminate},
		{"write unknown status (502)", KindWrite, http.StatusBadGateway, nil, Indeterminate},
		{"write no leader (503)", KindWrite, http.StatusServiceUnavailable, nil, Failed},
		{"write refused (400)", KindWrite, http.StatusBadRequest, nil, Failed},
		{"write rejected (409)", KindWrite, http.StatusConflict, nil, Failed},
		{"write never connected", KindWrite, 0, dialErr, Failed},
		{"write connection reset after sending", KindWrite, 0, resetErr, Indeterminate},
		{"write client timeout", KindWrite, 0, timeoutErr, Indeterminate},
		{"write timeout wrapped", KindWrite, 0, fmt.Errorf("campaign: %w", timeoutErr), Indeterminate},
		{"read found", KindStrong, http.StatusOK, nil, OK},
		{"read absent", KindLease, http.StatusNotFound, nil, OK},
		{"read no leader", KindStrong, http.StatusServiceUnavailable, nil, Failed},
		{"read timed out", KindStale, 0, timeoutErr, Indeterminate},
		{"read never connected", KindStale, 0, dialErr, Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.kind, tc.status, tc.err); got != tc.want {
				t.Fatalf("classify(%s, %d, %v) = %s, want %s", tc.kind, tc.status, tc.err, got, tc.want)
			}
		})
	}
}

// ms is a history time in milliseconds.
func ms(n int64) int64 { return n * int64(time.Millisecond) }

// write and read build history operations; a write's outcome comes from
// classify, so these cases check the HTTP classification and the model
// together.
func write(client int, value string, call, ret int64, status int, err error) Op {
	return Op{Client: client, Kind: KindWrite, Key: "k", Value: value, Call: ms(call), Return: ms(ret), Status: status, Result: classify(KindWrite, status, err)}
}

func read(client int, kind Kind, value string, call, ret int64) Op {
	return Op{Client: client, Kind: kind, Key: "k", Value: value, Call: ms(call), Return: ms(ret), Status: http.StatusOK, Result: OK, Level: string(kind)}
}

// TestHistoryClassification checks how outcomes enter the porcupine
// history. An indeterminate write must be allowed to take effect at any
// time after its call, also long after the client gave up, or never; a
// failed write must never take effect. Treating an indeterminate write as
// failed, or as acknowledged at its return time, or a failed write as
// indeterminate, flips one of these verdicts.
func TestHistoryClassification(t *testing.T) {
	timeoutErr := &url.Error{Op: "Put", URL: "http://127.0.0.1:1/v1/routes/k", Err: context.DeadlineExceeded}
	for _, tc := range []struct {
		name string
		ops  []Op
		want porcupine.CheckResult
	}{
		{
			name: "indeterminate write (504) seen after the client gave up",
			ops: []Op{
				write(0, "a", 0, 10, http.StatusOK, nil),
				write(1, "b", 20, 30, http.StatusGatewayTimeout, nil),
				read(2, KindStrong, "a", 40, 50), // not applied yet when the client gave up
				read(2, KindLease, "b", 60, 70),  // applied later
			},
			want: porcupine.Ok,
		},
		{
			name: "indeterminate write (client timeout) seen after the client gave up",
			ops: []Op{
				write(0, "a", 0, 10, http.StatusOK, nil),
				write(1, "b", 20, 30, 0, timeoutErr),
				read(2, KindStrong, "a", 40, 50),
				read(2, KindStrong, "b", 60, 70),
			},
			want: porcupine.Ok,
		},
		{
			name: "indeterminate write that never took effect",
			ops: []Op{
				write(0, "a", 0, 10, http.StatusOK, nil),
				write(1, "b", 20, 30, http.StatusGatewayTimeout, nil),
				read(2, KindStrong, "a", 40, 50),
				read(2, KindLease, "a", 60, 70),
			},
			want: porcupine.Ok,
		},
		{
			name: "indeterminate write cannot take effect before its call",
			ops: []Op{
				write(0, "a", 0, 10, http.StatusOK, nil),
				read(2, KindStrong, "b", 12, 15),
				write(1, "b", 20, 30, http.StatusGatewayTimeout, nil),
			},
			want: porcupine.Illegal,
		},
		{
			name: "failed write (503) seen",
			ops: []Op{
				write(0, "a", 0, 10, http.StatusOK, nil),
				write(1, "b", 20, 30, http.StatusServiceUnavailable, nil),
				read(2, KindStrong, "b", 40, 50),
			},
			want: porcupine.Illegal,
		},
		{
			name: "acknowledged write not seen by a later Lease read",
			ops: []Op{
				write(0, "a", 0, 10, http.StatusOK, nil),
				write(1, "b", 20, 30, http.StatusOK, nil),
				read(2, KindLease, "a", 40, 50),
			},
			want: porcupine.Illegal,
		},
		{
			name: "stale read of old state is not checked",
			ops: []Op{
				write(0, "a", 0, 10, http.StatusOK, nil),
				write(1, "b", 20, 30, http.StatusOK, nil),
				read(2, KindStale, "a", 40, 50),
			},
			want: porcupine.Ok,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkLinearizable(tc.ops, 10*time.Second, "")
			verdict := porcupine.Ok
			if len(got.Illegal) > 0 {
				verdict = porcupine.Illegal
			}
			if len(got.Unknown) > 0 {
				t.Fatalf("check ran out of time: %+v", got)
			}
			if verdict != tc.want {
				t.Fatalf("verdict %s, want %s", verdict, tc.want)
			}
		})
	}
}

func TestPorcupineHistoryGivesAClientANewIDAfterAnIndeterminateWrite(t *testing.T) {
	h := porcupineHistory([]Op{
		write(0, "a", 0, 10, http.StatusGatewayTimeout, nil),
		read(0, KindStrong, "a", 20, 30),
		write(0, "b", 40, 50, http.StatusServiceUnavailable, nil), // failed: left out
		read(0, KindStale, "a", 60, 70),                           // stale: left out
	})
	if len(h) != 2 {
		t.Fatalf("%d operations, want 2 (the failed write and the stale read left out): %+v", len(h), h)
	}
	if h[0].Return != 1<<63-1 {
		t.Fatalf("indeterminate write returns at %d, want MaxInt64", h[0].Return)
	}
	if h[0].ClientId == h[1].ClientId {
		t.Fatalf("the client's read after its indeterminate write shares its ID %d", h[0].ClientId)
	}
}

func TestCheckFence(t *testing.T) {
	r := func(node int, kind Kind, modified uint64, call, ret int64) Op {
		return Op{Node: node, Kind: kind, Key: "k", Result: OK, Modified: modified, Call: ms(call), Return: ms(ret)}
	}
	for _, tc := range []struct {
		name       string
		ops        []Op
		violations int
	}{
		{"newer after older", []Op{r(0, KindStrong, 5, 0, 10), r(0, KindStale, 7, 20, 30)}, 0},
		{"stale older than an earlier strong read", []Op{r(0, KindStrong, 7, 0, 10), r(0, KindStale, 5, 20, 30)}, 1},
		{"absent after present", []Op{r(0, KindLease, 7, 0, 10), r(0, KindStale, 0, 20, 30)}, 1},
		{"concurrent reads are not ordered", []Op{r(0, KindStrong, 7, 0, 30), r(0, KindStale, 5, 20, 40)}, 0},
		{"other nodes are not compared", []Op{r(0, KindStrong, 7, 0, 10), r(1, KindStale, 5, 20, 30)}, 0},
		{"failed reads are not compared", []Op{r(0, KindStrong, 7, 0, 10), {Node: 0, Kind: KindStale, Key: "k", Result: Failed, Call: ms(20), Return: ms(30)}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got, _ := checkFence(tc.ops); got != tc.violations {
				t.Fatalf("%d violations, want %d", got, tc.violations)
			}
		})
	}
}

func TestCheckWrites(t *testing.T) {
	ops := []Op{
		{Kind: KindWrite, Key: "a", Value: "a1", Index: 10, Result: OK},           // reflected everywhere
		{Kind: KindWrite, Key: "b", Value: "b1", Index: 20, Result: OK},           // node 1 lags
		{Kind: KindWrite, Key: "c", Value: "c1", Index: 30, Result: OK},           // lost
		{Kind: KindWrite, Key: "a", Value: "a0", Index: 0, Result: Failed},        // not applied
		{Kind: KindWrite, Key: "d", Value: "d1", Index: 0, Result: Failed},        // applied nonetheless
		{Kind: KindWrite, Key: "e", Value: "e1", Index: 0, Result: Indeterminate}, // either is fine
	}
	final := []map[string]version{
		{"a": {"a2", 12}, "b": {"b1", 20}, "c": {"c0", 29}, "d": {"d1", 40}},
		{"a": {"a2", 12}, "b": {"b0", 19}, "c": {"c0", 29}, "d": {"d1", 40}, "e": {"e1", 50}},
	}
	got := checkWrites(ops, final)
	if got.Acked != 3 || got.Lost != 1 || got.Partial != 1 || got.FailedApplied != 1 {
		t.Fatalf("acked=%d lost=%d partial=%d failed_applied=%d, want 3 1 1 1", got.Acked, got.Lost, got.Partial, got.FailedApplied)
	}
}

func TestCheckLinearizableWritesAVisualizationForAnIllegalKey(t *testing.T) {
	dir := t.TempDir()
	got := checkLinearizable([]Op{
		write(0, "a", 0, 10, http.StatusOK, nil),
		write(1, "b", 20, 30, http.StatusOK, nil),
		read(2, KindLease, "a", 40, 50),
	}, 10*time.Second, dir)
	if len(got.Illegal) != 1 || len(got.Visualizations) != 1 {
		t.Fatalf("illegal %v, visualizations %v; want one of each", got.Illegal, got.Visualizations)
	}
	if fi, err := os.Stat(got.Visualizations[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("visualization %s: %v", got.Visualizations[0], err)
	}
}
