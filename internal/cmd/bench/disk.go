package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// diskBatches are the batch sizes the physical limit is given for.
var diskBatches = []int{1, 16, 64, 256}

// disk measures the physical limit of the data directory's disk: the
// latency of fdatasync after a small append (what a log write must wait
// for at least), and of bolt's StoreLogs for the batch sizes writes
// produce. A commit in hashicorp/raft waits for the leader's StoreLogs and
// then a follower's, so a batch of b entries cannot commit faster than
// b / (2 × StoreLogs latency): that is the bound the write figures are a
// fraction of (the network round trip comes on top).
func (r *runner) disk(ctx context.Context) error {
	dir := r.dirFor("disk")
	if err := mkdir(dir); err != nil {
		return err
	}
	dur := r.o.duration
	for rep := 0; rep < r.o.reps; rep++ {
		lat, err := fdatasyncLatency(ctx, filepath.Join(dir, "fsync.dat"), dur)
		if err != nil {
			return err
		}
		r.figs.add("disk.fdatasync.p50", "disk", "ms", ms(quantile(lat, 0.5)))
		r.figs.add("disk.fdatasync.p99", "disk", "ms", ms(quantile(lat, 0.99)))
		r.logf("disk: fdatasync p50 %.3f ms p99 %.3f ms (%d samples)", ms(quantile(lat, 0.5)), ms(quantile(lat, 0.99)), len(lat))
		for _, b := range diskBatches {
			lat, err := storeLogsLatency(ctx, filepath.Join(dir, fmt.Sprintf("bolt-%d-%d.db", rep, b)), b, dur/2)
			if err != nil {
				return err
			}
			p50 := quantile(lat, 0.5)
			r.figs.add(fmt.Sprintf("disk.storelogs.b%d.p50", b), "disk", "ms", ms(p50))
			r.figs.add(fmt.Sprintf("disk.bound.b%d", b), "disk", "ops/s", float64(b)/(2*p50.Seconds()))
			r.logf("disk: bolt StoreLogs of %d: p50 %.3f ms, bound %.0f entries/s", b, ms(p50), float64(b)/(2*p50.Seconds()))
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// fdatasyncLatency appends 100 bytes and fdatasyncs, for dur, and returns
// the sorted latencies.
func fdatasyncLatency(ctx context.Context, path string, dur time.Duration) ([]time.Duration, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := make([]byte, 100)
	var lat []time.Duration
	end := time.Now().Add(dur)
	for time.Now().Before(end) && ctx.Err() == nil {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return nil, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return nil, fmt.Errorf("fdatasync: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	return lat, ctx.Err()
}

// storeLogsLatency times bolt StoreLogs of batch 100-byte entries, the way
// raftsync opens bolt, for dur, and returns the sorted latencies.
func storeLogsLatency(ctx context.Context, path string, batch int, dur time.Duration) ([]time.Duration, error) {
	s, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bolt.Options{Timeout: time.Second}})
	if err != nil {
		return nil, err
	}
	defer os.Remove(path)
	defer s.Close()
	data := make([]byte, commandSize)
	var lat []time.Duration
	next := uint64(1)
	end := time.Now().Add(dur)
	for time.Now().Before(end) && ctx.Err() == nil {
		logs := make([]*raft.Log, batch)
		for i := range logs {
			logs[i] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()}
			next++
		}
		t0 := time.Now()
		if err := s.StoreLogs(logs); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	return lat, ctx.Err()
}
