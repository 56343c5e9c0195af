package faultsuite

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/raftsync"
)

// DiskMode is the fault a Disk injects into a node's raft stores.
type DiskMode int

// The disk modes. Only the write paths fail: hashicorp/raft panics when a
// log read fails or when it cannot store its current term (it treats both
// as unrecoverable), which in one test process would end every node, so
// those are left alone; see docs/ROBUSTNESS.md.
const (
	// DiskOK passes everything through.
	DiskOK DiskMode = iota
	// DiskFailWrites fails every log write (StoreLog, StoreLogs, DeleteRange)
	// with an error wrapping syscall.ENOSPC, writing nothing.
	DiskFailWrites
	// DiskSlowWrites delays every log and stable-store write by the stall
	// duration before doing it: a slow fsync.
	DiskSlowWrites
	// DiskPartialWrites makes each log write store a random prefix of its
	// entries (possibly all of them, as when the data reached the disk but
	// the fsync reported an error) and then fail with an error wrapping
	// syscall.EIO.
	DiskPartialWrites
	// DiskRefuseVotes makes the stable store refuse to record a vote
	// (LastVoteTerm, LastVoteCand), which raft handles by not granting it.
	DiskRefuseVotes
)

// String names the mode ("ok", "full", "stall", "partial", "vote-fail").
func (m DiskMode) String() string {
	switch m {
	case DiskOK:
		return "ok"
	case DiskFailWrites:
		return "full"
	case DiskSlowWrites:
		return "stall"
	case DiskPartialWrites:
		return "partial"
	case DiskRefuseVotes:
		return "vote-fail"
	}
	return fmt.Sprintf("DiskMode(%d)", int(m))
}

// ErrInjected is wrapped by every error a Disk injects.
var ErrInjected = errors.New("faultsuite: injected disk fault")

// DiskStats counts the faults a Disk injected.
type DiskStats struct {
	Failed, Stalled, Partial, VotesRefused uint64
}

// Disk injects faults into the raft log and stable stores of one node. Its
// mode can change at any time, also while the node runs; install it with
// Install (raftsync.Config.WrapStores) before the node opens. It is safe
// for concurrent use.
type Disk struct {
	mu    sync.Mutex
	mode  DiskMode
	stall time.Duration
	rng   *rand.Rand
	stats DiskStats
}

// NewDisk returns a Disk in DiskOK mode whose partial writes draw from a
// generator seeded with seed.
func NewDisk(seed int64) *Disk {
	return &Disk{rng: rand.New(rand.NewPCG(uint64(seed), 0xd15c))}
}

// Set changes the mode; stall is the delay DiskSlowWrites adds to each write.
// It returns an error, changing nothing, for an unknown mode or a negative
// stall.
func (d *Disk) Set(mode DiskMode, stall time.Duration) error {
	if mode < DiskOK || mode > DiskRefuseVotes {
		return fmt.Errorf("faultsuite: unknown disk mode %d", int(mode))
	}
	if stall < 0 {
		return fmt.Errorf("faultsuite: negative disk stall %v", stall)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mode, d.stall = mode, stall
	return nil
}

// Mode returns the current mode.
func (d *Disk) Mode() DiskMode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mode
}

// Stats returns the counts so far.
func (d *Disk) Stats() DiskStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Install puts d's faults on the log and stable stores of the nodes opened
// with cfg, below whatever cfg.WrapStores already wraps.
func (d *Disk) Install(cfg *raftsync.Config) {
	next := cfg.WrapStores
	cfg.WrapStores = func(st raftsync.Stores) raftsync.Stores {
		st.Log = d.WrapLogStore(st.Log)
		st.Stable = d.WrapStableStore(st.Stable)
		if next != nil {
			st = next(st)
		}
		return st
	}
}

// WrapLogStore returns inner with d's faults on its write paths.
func (d *Disk) WrapLogStore(inner raft.LogStore) raft.LogStore {
	return &faultyLog{LogStore: inner, d: d}
}

// WrapStableStore returns inner with d's faults on its write paths.
func (d *Disk) WrapStableStore(inner raft.StableStore) raft.StableStore {
	return &faultyStable{StableStore: inner, d: d}
}

// writeFault decides what happens to one log write of n entries: how
// many entries to store, how long to stall before that, and the error to
// return afterwards (nil: the write succeeds).
func (d *Disk) writeFault(n int) (prefix int, stall time.Duration, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.mode {
	case DiskFailWrites:
		d.stats.Failed++
		return 0, 0, fmt.Errorf("%w: log write: %w", ErrInjected, syscall.ENOSPC)
	case DiskSlowWrites:
		d.stats.Stalled++
		return n, d.stall, nil
	case DiskPartialWrites:
		d.stats.Partial++
		k := d.rng.IntN(n + 1)
		return k, 0, fmt.Errorf("%w: log write failed after %d of %d entries: %w", ErrInjected, k, n, syscall.EIO)
	}
	return n, 0, nil
}

type faultyLog struct {
	raft.LogStore
	d *Disk
}

func (l *faultyLog) StoreLog(e *raft.Log) error { return l.StoreLogs([]*raft.Log{e}) }

// IsMonotonic answers for the store below (raft.MonotonicLogStore): a
// store that accepts no gaps still gets none through the fault layer.
func (l *faultyLog) IsMonotonic() bool {
	m, ok := l.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (l *faultyLog) StoreLogs(logs []*raft.Log) error {
	prefix, stall, err := l.d.writeFault(len(logs))
	if stall > 0 {
		time.Sleep(stall) // the fault itself: a slow disk
	}
	if prefix > 0 {
		if perr := l.LogStore.StoreLogs(logs[:prefix]); perr != nil {
			return perr
		}
	}
	return err
}

func (l *faultyLog) DeleteRange(min, max uint64) error {
	l.d.mu.Lock()
	mode, stall := l.d.mode, l.d.stall
	if mode == DiskFailWrites {
		l.d.stats.Failed++
	}
	l.d.mu.Unlock()
	switch mode {
	case DiskFailWrites:
		return fmt.Errorf("%w: log delete: %w", ErrInjected, syscall.ENOSPC)
	case DiskSlowWrites:
		time.Sleep(stall)
	}
	return l.LogStore.DeleteRange(min, max)
}

type faultyStable struct {
	raft.StableStore
	d *Disk
}

// voteKeys are the stable-store keys raft's persistVote writes; a failure
// there makes raft refuse the vote rather than panic.
var voteKeys = map[string]bool{"LastVoteTerm": true, "LastVoteCand": true}

func (s *faultyStable) before(key []byte) error {
	s.d.mu.Lock()
	mode, stall := s.d.mode, s.d.stall
	switch {
	case mode == DiskSlowWrites:
		s.d.stats.Stalled++
	case mode == DiskRefuseVotes && voteKeys[string(key)]:
		s.d.stats.VotesRefused++
	}
	s.d.mu.Unlock()
	switch {
	case mode == DiskSlowWrites:
		time.Sleep(stall)
	case mode == DiskRefuseVotes && voteKeys[string(key)]:
		return fmt.Errorf("%w: writing %s: %w", ErrInjected, key, syscall.EIO)
	}
	return nil
}

func (s *faultyStable) Set(key, val []byte) error {
	if err := s.before(key); err != nil {
		return err
	}
	return s.StableStore.Set(key, val)
}

func (s *faultyStable) SetUint64(key []byte, val uint64) error {
	if err := s.before(key); err != nil {
		return err
	}
	return s.StableStore.SetUint64(key, val)
}
