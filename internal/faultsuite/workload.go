package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/raftsync"
)

// opTimeout bounds every client call. It is longer than an election, so
// that a call can outlive a leader change, and short enough that a client
// stuck on a partitioned node comes back often.
const opTimeout = 2 * time.Second

// startClients starts s.Clients clients per member. Each loops until stop
// is closed: it picks an operation (write, Strong, Lease or Stale read) on
// a random key, runs it on its member's current node and records it; after
// a successful write it sometimes checks read-your-writes on another member
// with WaitIndex.
func (r *run) startClients(stop <-chan struct{}, wg *sync.WaitGroup) {
	keys := make([]string, r.s.Keys)
	for k := range keys {
		keys[k] = fmt.Sprintf("k%d", k)
	}
	for i := range r.s.Total() {
		for j := range r.s.Clients {
			id := i*r.s.Clients + j
			rng := rand.New(rand.NewPCG(uint64(r.s.Seed), uint64(id)+1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.client(id, i, keys, rng, stop)
			}()
		}
	}
}

func (r *run) client(id, member int, keys []string, rng *rand.Rand, stop <-chan struct{}) {
	seq := 0
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(2+rng.IntN(9)) * time.Millisecond): // pacing
		}
		sl := r.slots[member].Load()
		if sl == nil {
			continue // member down: try again shortly
		}
		key := keys[rng.IntN(len(keys))]
		switch p := rng.IntN(100); {
		case p < 35:
			seq++
			op := r.write(sl, id, member, key, fmt.Sprintf("n%d.c%d.%d", member, id, seq))
			if op.Result == OK && rng.IntN(4) == 0 {
				r.readYourWrite(op, rng)
			}
		case p < 55:
			r.read(sl, id, member, key, consistency.Strong)
		case p < 75:
			r.read(sl, id, member, key, consistency.Lease)
		default:
			r.read(sl, id, member, key, consistency.Stale)
		}
	}
}

func (r *run) write(sl *slot, client, member int, key, value string) Op {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	op := Op{Client: client, Node: member, Inc: sl.inc, Kind: OpWrite, Key: key, Value: value, Call: r.hist.Now()}
	res, err := sl.node.Apply(ctx, WriteCommand(key, value))
	op.Return = r.hist.Now()
	switch {
	case err == nil:
		op.Result, op.Index = OK, res.Index
	case errors.Is(err, raftsync.ErrCommittedNoResponse):
		// Committed at res.Index; only the FSM's response was lost, and
		// this FSM's writes always succeed.
		op.Result, op.Index = OK, res.Index
	case errors.Is(err, raftsync.ErrIndeterminate):
		op.Result, op.Err = Indeterminate, err.Error()
	default:
		op.Result, op.Err = Failed, err.Error()
	}
	op.ID = r.hist.Add(op)
	return op
}

func (r *run) read(sl *slot, client, member int, key string, level consistency.Level) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	kind := map[consistency.Level]OpKind{consistency.Strong: OpStrong, consistency.Lease: OpLease, consistency.Stale: OpStale}[level]
	op := Op{Client: client, Node: member, Inc: sl.inc, Kind: kind, Key: key, Call: r.hist.Now()}
	// Read with a closure, at every level: with the read fence on, the
	// fence then covers the state the closure saw, not only the index
	// checked before it ran (see raftsync.Node.ReadIndex), and the
	// cross-level checker compares what each read really saw.
	err := sl.node.Read(ctx, level, func() error {
		op.Value, op.DataIndex = sl.fsm.Read(key)
		return nil
	})
	op.Index = op.DataIndex
	if err == nil {
		op.Result = OK
	} else {
		op.Result, op.Err = Failed, err.Error()
	}
	op.Return = r.hist.Now()
	r.hist.Add(op)
}

// readYourWrite waits for the acknowledged write w on another running
// member and checks that member's FSM then holds w at w's index.
func (r *run) readYourWrite(w Op, rng *rand.Rand) {
	other := (w.Node + 1 + rng.IntN(r.s.Members()-1)) % r.s.Members()
	sl := r.slots[other].Load()
	if sl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := sl.node.WaitIndex(ctx, w.Index); err != nil {
		return // timed out on a cut-off member, or closed: nothing promised
	}
	r.ryw.Add(1)
	got, ok := sl.fsm.At(w.Index)
	if last := sl.fsm.Last(); !ok || got != (Entry{Key: w.Key, Value: w.Value}) || last < w.Index {
		r.violation("read-your-writes",
			"WaitIndex(%d) returned on %s (incarnation %d) but its FSM (last applied %d) holds %+v (present=%v) there, not the acknowledged %s",
			w.Index, r.name(other), sl.inc, last, got, ok, w)
	}
}
