package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/raftkit/raftkit/readiness"
)

// sweepVariant is one point of the tuning sweep.
type sweepVariant struct {
	name   string
	system string // raftkit or bareraft
	tune   tuning
}

// sweepVariants are the write-path knobs the issue asks to choose by
// measurement. The knobs raftkit exposes (raft.Config through
// Config.RaftConfig, Config.Persist, Config.LogStore) are swept on
// raftkit; the ones it fixes internally (the LogCache size, bolt's
// options) are swept on bare raft with otherwise identical wiring. The
// WAL is swept on both.
var sweepVariants = []sweepVariant{
	{"default", "raftkit", tuning{}}, // MaxAppendEntries 256
	{"batch", "raftkit", tuning{BatchApplyCh: true}},
	{"maxappend64", "raftkit", tuning{MaxAppendEntries: 64}}, // raft's default
	{"maxappend64+batch", "raftkit", tuning{MaxAppendEntries: 64, BatchApplyCh: true}},
	{"maxappend1024+batch", "raftkit", tuning{MaxAppendEntries: 1024, BatchApplyCh: true}},
	{"persist1", "raftkit", tuning{Persist: readiness.PersistPolicy{EveryEntries: 1}}},
	{"persist64", "raftkit", tuning{Persist: readiness.PersistPolicy{EveryEntries: 64}}},
	{"persist16k-10s", "raftkit", tuning{Persist: readiness.PersistPolicy{EveryEntries: 16384, Interval: 10 * time.Second}}},
	{"wal", "raftkit", tuning{WAL: true}}, // Config.LogStore = walstore.Factory{}
	{"default", "bareraft", tuning{}},
	{"nologcache", "bareraft", tuning{LogCache: -1}},
	{"logcache256", "bareraft", tuning{LogCache: 256}},
	{"logcache4096", "bareraft", tuning{LogCache: 4096}},
	{"nofreelistsync", "bareraft", tuning{NoFreelistSync: true}},
	{"wal", "bareraft", tuning{WAL: true}},
}

// sweep measures leader writes for every variant at every writer count.
func (r *runner) sweep(ctx context.Context) error {
	for rep := 0; rep < r.o.reps; rep++ {
		for _, v := range sweepVariants {
			if !r.o.runs(v.system) || (r.o.sweep != nil && !slices.Contains(r.o.sweep, v.name)) {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.sweepOne(ctx, v)
		}
	}
	return ctx.Err()
}

func (r *runner) sweepOne(ctx context.Context, v sweepVariant) {
	sctx, cancel := context.WithTimeout(ctx, clusterStartTimeout)
	var c inproc
	var err error
	dir := r.dirFor("sweep-" + v.system + "-" + v.name)
	if v.system == "raftkit" {
		c, err = newRKCluster(sctx, dir, v.tune, false, r.logger)
	} else {
		c, err = newBareCluster(sctx, dir, v.tune, false, r.logger)
	}
	cancel()
	if err != nil {
		r.fail("sweep "+v.system+" "+v.name, err)
		return
	}
	defer func() {
		if err := c.close(); err != nil {
			r.fail("sweep "+v.system+" "+v.name+" close", err)
		}
	}()
	for _, w := range r.o.writers {
		s, err := r.inprocWrites(ctx, c, false, w)
		r.record(fmt.Sprintf("sweep.%s.w%d", v.name, w), v.system, "ms", s, err)
	}
}

// sweepNames lists the distinct variant names.
func sweepNames() string {
	var names []string
	for _, v := range sweepVariants {
		if !slices.Contains(names, v.name) {
			names = append(names, v.name)
		}
	}
	return strings.Join(names, ",")
}
