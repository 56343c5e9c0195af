package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// heal resumes every paused node and restarts every dead one, then waits
// until all answer /readyz 200. It returns the nodes that do not within
// recoveryBound.
func (c *cluster) heal(ctx context.Context) ([]*node, error) {
	for _, nd := range c.nodes {
		if nd.running() {
			if err := nd.signal(syscall.SIGCONT); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.start(nd); err != nil {
			return nil, err
		}
	}
	return c.waitReady(ctx, recoveryBound, c.nodes...), nil
}

// barrierKey is the route the convergence check writes; it is not part of
// the checked history.
const barrierKey = "barrier"

// converge writes a barrier route through the nodes in turn until one
// acknowledges it, then reads every node's routes at that index (Stale,
// after waiting for the index). It retries until the nodes hold the same
// routes, or d passes. It returns each node's final state of the
// workload's keys.
func (c *cluster) converge(ctx context.Context, d time.Duration) ([]map[string]version, error) {
	deadline := time.Now().Add(d)
	var lastErr error
	for attempt := 0; time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond): // between convergence attempts
			}
		}
		nd := c.nodes[attempt%len(c.nodes)]
		resp, body, err := c.request(ctx, nd, "PUT", "/v1/routes/"+barrierKey+"?timeout=10s", bytes.NewReader(routeBody(barrierKey, fmt.Sprint(attempt))))
		if err != nil || resp.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("barrier write through %s: %v %s", nd.id, statusOf(resp, err), body)
			continue
		}
		var w struct {
			Index uint64 `json:"index"`
		}
		if err := json.Unmarshal(body, &w); err != nil || w.Index == 0 {
			lastErr = fmt.Errorf("barrier write through %s: no index in %q", nd.id, body)
			continue
		}
		states, err := c.states(ctx, w.Index)
		if err != nil {
			lastErr = err
			continue
		}
		same := true
		for _, s := range states[1:] {
			if !maps.Equal(s, states[0]) {
				same = false
			}
		}
		if same {
			return states, nil
		}
		lastErr = fmt.Errorf("nodes differ at barrier index %d", w.Index)
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	return nil, fmt.Errorf("no convergence within %v: %w", d, lastErr)
}

// states reads every node's routes once it has applied index.
func (c *cluster) states(ctx context.Context, index uint64) ([]map[string]version, error) {
	var out []map[string]version
	for _, nd := range c.nodes {
		path := fmt.Sprintf("/v1/routes?consistency=stale&wait_index=%d&timeout=10s", index)
		resp, body, err := c.request(ctx, nd, "GET", path, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("routes of %s: %v %s", nd.id, statusOf(resp, err), body)
		}
		var list struct {
			Routes []json.RawMessage `json:"routes"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, fmt.Errorf("routes of %s: %w", nd.id, err)
		}
		m := map[string]version{}
		for _, raw := range list.Routes {
			var r routeJSON
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, fmt.Errorf("routes of %s: %w", nd.id, err)
			}
			if r.ID == barrierKey {
				continue
			}
			v, err := decodeVersion(raw)
			if err != nil {
				return nil, fmt.Errorf("routes of %s: %w", nd.id, err)
			}
			m[r.ID] = v
		}
		out = append(out, m)
	}
	return out, nil
}

func statusOf(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// finalReads reads every key at Strong on every node of the healed
// cluster and adds the reads to the history, so that porcupine checks the
// final state against every acknowledged write too.
func (w *workload) finalReads(ctx context.Context, nodes []*node) {
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	for _, k := range w.usedKeys() {
		for _, nd := range nodes {
			op := w.read(ctx, hc, nd, k, KindStrong)
			op.Client, op.Final = -1, true
			w.h.Add(op)
		}
	}
}

// logProblems scans a node's log for a data race or a Go crash (a panic or
// a fatal runtime error), which kill -9 and SIGSTOP never cause.
func logProblems(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "WARNING: DATA RACE") || strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			out = append(out, l)
		}
	}
	return out
}
