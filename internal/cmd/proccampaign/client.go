package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// valueHeader is the route header that carries a write's value: each write
// sets a unique one, so a read names exactly the write it saw.
const valueHeader = "X-Campaign-Value"

// Timeouts of the workload's requests. The gateway's own bound (?timeout)
// is shorter than the client's, so that a live gateway answers (504 for a
// write of unknown outcome) before the client gives up; a paused or killed
// one leaves the client to time out.
const (
	serverTimeout = 5 * time.Second
	clientTimeout = 8 * time.Second
)

// workload drives writes and reads against the gateways over HTTP and
// records every operation in h.
type workload struct {
	h       *History
	token   string
	keys    int           // key slots
	keyLife time.Duration // each slot moves to a fresh key this often
	start   time.Time

	mu   sync.Mutex
	used map[string]bool
}

// key returns the key of slot at this moment: slot s in generation g is
// "k<s>-g<g>". Moving to fresh keys bounds each key's history, so that
// porcupine's search, which grows with the indeterminate writes of one
// key, stays small (Jepsen's independent keys).
func (w *workload) key(slot int) string {
	gen := int(time.Since(w.start) / w.keyLife)
	k := fmt.Sprintf("k%d-g%d", slot, gen)
	w.mu.Lock()
	w.used[k] = true
	w.mu.Unlock()
	return k
}

// usedKeys returns every key the workload touched, sorted.
func (w *workload) usedKeys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.used))
	for k := range w.used {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// newHTTPClient returns a client for one workload client: its own
// connections, so that a connection stuck on a paused node holds up no
// other client.
func newHTTPClient() *http.Client {
	return &http.Client{Timeout: clientTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
}

// client runs one client against nd until end (it starts no operation
// after end, and lets the one under way finish) or until ctx ends (which
// cuts the one under way short): 40% writes, 25% Strong reads, 25% Lease
// reads, 10% Stale reads, on random key slots.
func (w *workload) client(ctx context.Context, end time.Time, id int, nd *node, rng *rand.Rand) {
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	for n := 0; ctx.Err() == nil && time.Now().Before(end); n++ {
		k := w.key(rng.IntN(w.keys))
		var op Op
		switch r := rng.Float64(); {
		case r < 0.40:
			op = w.write(ctx, hc, nd, k, fmt.Sprintf("c%d-%d", id, n))
		case r < 0.65:
			op = w.read(ctx, hc, nd, k, KindStrong)
		case r < 0.90:
			op = w.read(ctx, hc, nd, k, KindLease)
		default:
			op = w.read(ctx, hc, nd, k, KindStale)
		}
		op.Client = id
		w.h.Add(op)
		pace := time.Duration(rng.Int64N(int64(10 * time.Millisecond)))
		if op.Status == 0 && op.Result != OK {
			pace += 100 * time.Millisecond // no answer: the node is down, do not spin
		}
		select {
		case <-ctx.Done():
		case <-time.After(pace): // pacing the load, not waiting for a condition
		}
	}
}

// do sends one request and reads the whole answer. It returns the
// transport's error, or the status, headers and body.
func (w *workload) do(ctx context.Context, hc *http.Client, nd *node, method, path string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+nd.adminAddr+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, err // the status alone is not enough: treat as no answer
	}
	return resp.StatusCode, resp.Header, b, nil
}

// routeBody is the body a write sends for key with value.
func routeBody(key, value string) []byte {
	b, _ := json.Marshal(map[string]any{
		"path_prefix": "/" + key,
		"upstreams":   []map[string]any{{"url": "http://127.0.0.1:9"}},
		"set_headers": map[string]string{valueHeader: value},
	})
	return b
}

// write PUTs the route key with value through nd.
func (w *workload) write(ctx context.Context, hc *http.Client, nd *node, key, value string) Op {
	op := Op{Node: nd.idx, Kind: KindWrite, Key: key, Value: value}
	path := "/v1/routes/" + key + "?timeout=" + serverTimeout.String()
	op.Call = w.h.Now()
	status, hdr, body, err := w.do(ctx, hc, nd, "PUT", path, routeBody(key, value))
	op.Return = w.h.Now()
	op.Status = status
	op.Result = classify(KindWrite, status, err)
	switch {
	case err != nil:
		op.Err = err.Error()
	case status == http.StatusOK:
		var res struct {
			Index uint64 `json:"index"`
		}
		if jerr := json.Unmarshal(body, &res); jerr != nil || res.Index == 0 {
			// Acknowledged, but without the index the final check needs:
			// keep it in the linearizability check as of unknown outcome.
			op.Result, op.Err = Indeterminate, fmt.Sprintf("200 without an index: %q", body)
		}
		op.Index = res.Index
	default:
		op.Index = headerIndex(hdr)
		op.Err = strings.TrimSpace(string(body))
	}
	return op
}

// read GETs the route key through nd at level kind.
func (w *workload) read(ctx context.Context, hc *http.Client, nd *node, key string, kind Kind) Op {
	op := Op{Node: nd.idx, Kind: kind, Key: key}
	path := "/v1/routes/" + key + "?consistency=" + string(kind) + "&timeout=" + serverTimeout.String()
	op.Call = w.h.Now()
	status, hdr, body, err := w.do(ctx, hc, nd, "GET", path, nil)
	op.Return = w.h.Now()
	op.Status = status
	op.Result = classify(kind, status, err)
	if err != nil {
		op.Err = err.Error()
		return op
	}
	op.Index = headerIndex(hdr)
	op.Level = strings.ToLower(hdr.Get("X-Raft-Consistency"))
	switch status {
	case http.StatusOK:
		v, err := decodeVersion(body)
		if err != nil {
			op.Result, op.Err = Failed, err.Error()
			return op
		}
		op.Value, op.Modified = v.Value, v.Modified
	case http.StatusNotFound:
	default:
		op.Err = strings.TrimSpace(string(body))
	}
	return op
}

// routeJSON is the part of a route the campaign reads.
type routeJSON struct {
	ID            string            `json:"id"`
	SetHeaders    map[string]string `json:"set_headers"`
	ModifiedIndex uint64            `json:"modified_index"`
}

func decodeVersion(body []byte) (version, error) {
	var r routeJSON
	if err := json.Unmarshal(body, &r); err != nil {
		return version{}, fmt.Errorf("decoding a route: %w", err)
	}
	v, ok := r.SetHeaders[valueHeader]
	if !ok || r.ModifiedIndex == 0 {
		return version{}, fmt.Errorf("route %q without %s or modified_index: %q", r.ID, valueHeader, body)
	}
	return version{Value: v, Modified: r.ModifiedIndex}, nil
}

func headerIndex(h http.Header) uint64 {
	n, _ := strconv.ParseUint(h.Get("X-Raft-Index"), 10, 64)
	return n
}
