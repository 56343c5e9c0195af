package raftsync

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testutil"
)

var errDiskInjected = errors.New("injected log write failure")

// failingLog fails its StoreLogs calls while failNext > 0, after storing
// the first prefix entries (a partial write), and counts deletions.
type failingLog struct {
	raft.LogStore
	mu       sync.Mutex
	failNext int
	prefix   int
	// failDeletes is how many DeleteRange calls fail from now on.
	failDeletes int
}

func (f *failingLog) StoreLog(l *raft.Log) error { return f.StoreLogs([]*raft.Log{l}) }

func (f *failingLog) StoreLogs(logs []*raft.Log) error {
	f.mu.Lock()
	fail := f.failNext > 0
	if fail {
		f.failNext--
	}
	f.mu.Unlock()
	if !fail {
		return f.LogStore.StoreLogs(logs)
	}
	if k := min(f.prefix, len(logs)); k > 0 {
		if err := f.LogStore.StoreLogs(logs[:k]); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %w", errDiskInjected, syscall.EIO)
}

func (f *failingLog) DeleteRange(min, max uint64) error {
	f.mu.Lock()
	fail := f.failDeletes > 0
	if fail {
		f.failDeletes--
	}
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("%w: %w", errDiskInjected, syscall.EIO)
	}
	return f.LogStore.DeleteRange(min, max)
}

func entries(term uint64, from, to uint64) []*raft.Log {
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte{byte(i)}})
	}
	return logs
}

// logTerms returns the term of each entry of s from its first to its last
// index, and 0 for a missing one.
func logTerms(t *testing.T, s raft.LogStore) (first uint64, terms []uint64) {
	t.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if last == 0 {
		return first, nil
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		switch err := s.GetLog(i, &l); {
		case errors.Is(err, raft.ErrLogNotFound):
			terms = append(terms, 0)
		case err != nil:
			t.Fatal(err)
		default:
			terms = append(terms, l.Term)
		}
	}
	return first, terms
}

func TestTailLogDefersTailTruncationToTheNextWrite(t *testing.T) {
	type step struct {
		del      [2]uint64 // DeleteRange(min, max); zero: none
		store    []*raft.Log
		fail     bool // the store fails
		prefix   int  // entries a failing store writes first
		failDel  bool // the next inner DeleteRange fails
		wantErr  bool
		viewLast uint64 // the wrapper's LastIndex afterwards
	}
	cases := []struct {
		name  string
		steps []step
		// the inner store's entries afterwards, from wantFirst
		wantFirst uint64
		wantTerms []uint64
	}{
		{
			name: "truncation then a successful write leaves no old entries beyond",
			steps: []step{
				{del: [2]uint64{4, 6}, viewLast: 3},
				{store: entries(2, 4, 4), viewLast: 4},
			},
			wantFirst: 1, wantTerms: []uint64{1, 1, 1, 2},
		},
		{
			name: "truncation then a longer write",
			steps: []step{
				{del: [2]uint64{4, 6}, viewLast: 3},
				{store: entries(2, 4, 8), viewLast: 8},
			},
			wantFirst: 1, wantTerms: []uint64{1, 1, 1, 2, 2, 2, 2, 2},
		},
		{
			name: "truncation then a failed write leaves the store unchanged",
			steps: []step{
				{del: [2]uint64{4, 6}, viewLast: 3},
				{store: entries(2, 4, 5), fail: true, wantErr: true, viewLast: 6},
			},
			wantFirst: 1, wantTerms: []uint64{1, 1, 1, 1, 1, 1},
		},
		{
			name: "a partial write keeps every index raft believes it holds, the retry finishes",
			steps: []step{
				{del: [2]uint64{4, 6}, viewLast: 3},
				{store: entries(2, 4, 5), fail: true, prefix: 1, wantErr: true, viewLast: 6},
				{del: [2]uint64{5, 6}, viewLast: 4},
				{store: entries(2, 5, 5), viewLast: 5},
			},
			wantFirst: 1, wantTerms: []uint64{1, 1, 1, 2, 2},
		},
		{
			name: "a failed deletion after the write keeps the old entries hidden until the next write",
			steps: []step{
				{del: [2]uint64{4, 6}, viewLast: 3},
				{store: entries(2, 4, 4), failDel: true, viewLast: 4},
				{store: entries(2, 5, 5), fail: true, wantErr: true, viewLast: 4},
				{store: entries(2, 5, 5), viewLast: 5},
			},
			wantFirst: 1, wantTerms: []uint64{1, 1, 1, 2, 2},
		},
		{
			name: "truncation of the whole log",
			steps: []step{
				{del: [2]uint64{1, 6}, viewLast: 0},
				{store: entries(2, 1, 2), viewLast: 2},
			},
			wantFirst: 1, wantTerms: []uint64{2, 2},
		},
		{
			name: "head deletion is not deferred",
			steps: []step{
				{del: [2]uint64{1, 3}, viewLast: 6},
			},
			wantFirst: 4, wantTerms: []uint64{1, 1, 1},
		},
		{
			name: "head deletion while a truncation is pending",
			steps: []step{
				{del: [2]uint64{5, 6}, viewLast: 4},
				{del: [2]uint64{1, 2}, viewLast: 4},
				{store: entries(2, 5, 5), viewLast: 5},
			},
			wantFirst: 3, wantTerms: []uint64{1, 1, 2},
		},
		{
			name: "a write elsewhere carries the truncation out first",
			steps: []step{
				{del: [2]uint64{5, 6}, viewLast: 4},
				{store: entries(2, 3, 3), viewLast: 4},
			},
			wantFirst: 1, wantTerms: []uint64{1, 1, 2, 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inner := &failingLog{LogStore: raft.NewInmemStore()}
			if err := inner.StoreLogs(entries(1, 1, 6)); err != nil {
				t.Fatal(err)
			}
			l := newTailLog(inner)
			for i, s := range tc.steps {
				var err error
				if s.del != [2]uint64{} {
					err = l.DeleteRange(s.del[0], s.del[1])
				} else {
					inner.mu.Lock()
					inner.failNext, inner.prefix, inner.failDeletes = 0, s.prefix, 0
					if s.fail {
						inner.failNext = 1
					}
					if s.failDel {
						inner.failDeletes = 1
					}
					inner.mu.Unlock()
					err = l.StoreLogs(s.store)
				}
				if (err != nil) != s.wantErr {
					t.Fatalf("step %d: error %v, want error %v", i, err, s.wantErr)
				}
				if last, err := l.LastIndex(); err != nil || last != s.viewLast {
					t.Fatalf("step %d: LastIndex = %d, %v; want %d", i, last, err, s.viewLast)
				}
				if s.del != [2]uint64{} && s.del[0] > 1 {
					var e raft.Log
					if err := l.GetLog(s.del[0], &e); !errors.Is(err, raft.ErrLogNotFound) {
						t.Fatalf("step %d: GetLog(%d) after its deletion = %v, want ErrLogNotFound", i, s.del[0], err)
					}
				}
			}
			first, terms := logTerms(t, inner.LogStore)
			if first != tc.wantFirst || fmt.Sprint(terms) != fmt.Sprint(tc.wantTerms) {
				t.Fatalf("inner store from %d: terms %v; want from %d: %v", first, terms, tc.wantFirst, tc.wantTerms)
			}
			vfirst, vterms := logTerms(t, l)
			if vfirst != first || fmt.Sprint(vterms) != fmt.Sprint(terms) {
				t.Fatalf("wrapper's view from %d: %v; inner store from %d: %v", vfirst, vterms, first, terms)
			}
		})
	}
}

func fastRaftConfig(id string) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(id)
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = hclog.NewNullLogger()
	return c
}

// TestFollowerCatchesUpAfterItsTruncatingWriteFails is the follower of
// ROBUSTNESS.md finding 8: an old leader's uncommitted tail conflicts with
// the new leader's entries, raft deletes the tail, and the write of the
// new entries fails. The follower's log store is built by openStorage on a
// bolt Dir, with a test hook below it that fails that one write (storing
// prefix entries first). The leader is a single voter with entries 2–7 of
// term 2; the follower, a non-voter (it never campaigns), holds entries
// 2–3 of term 1, so the leader's first accepted AppendEntries carries
// entries 2–8 and conflicts at 2.
func TestFollowerCatchesUpAfterItsTruncatingWriteFails(t *testing.T) {
	for _, prefix := range []int{0, 1} {
		t.Run(fmt.Sprintf("prefix=%d", prefix), func(t *testing.T) {
			conf := raft.Configuration{Servers: []raft.Server{
				{Suffrage: raft.Voter, ID: "a", Address: "a"},
				{Suffrage: raft.Nonvoter, ID: "c", Address: "c"},
			}}
			addrA, transA := raft.NewInmemTransport("a")
			addrC, transC := raft.NewInmemTransport("c")
			transA.Connect(addrC, transC)
			transC.Connect(addrA, transA)
			defer transA.Close()
			defer transC.Close()

			// The follower: its Dir's stores as the node opens them.
			dir := t.TempDir()
			var disk *failingLog
			wrap := func(st Stores) Stores {
				disk = &failingLog{LogStore: st.Log}
				st.Log = disk
				return st
			}
			s, err := openStorage(dir, nil, wrap, 1, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			snapsC := raft.NewInmemSnapshotStore()
			if err := raft.BootstrapCluster(fastRaftConfig("c"), s.logs, s.stable, snapsC, transC, conf); err != nil {
				t.Fatal(err)
			}
			if err := s.logs.StoreLogs(entries(1, 2, 3)); err != nil {
				t.Fatal(err)
			}
			disk.mu.Lock()
			disk.failNext, disk.prefix = 1, prefix
			disk.mu.Unlock()

			// The leader.
			logsA, snapsA := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
			if err := raft.BootstrapCluster(fastRaftConfig("a"), logsA, logsA, snapsA, transA, conf); err != nil {
				t.Fatal(err)
			}
			if err := logsA.StoreLogs(entries(2, 2, 7)); err != nil {
				t.Fatal(err)
			}
			if err := logsA.SetUint64([]byte("CurrentTerm"), 2); err != nil {
				t.Fatal(err)
			}

			rc, err := raft.NewRaft(fastRaftConfig("c"), nopFSM{}, s.logs, s.stable, snapsC, transC)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := rc.Shutdown().Error(); err != nil {
					t.Error(err)
				}
			}()
			ra, err := raft.NewRaft(fastRaftConfig("a"), nopFSM{}, logsA, logsA, snapsA, transA)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := ra.Shutdown().Error(); err != nil {
					t.Error(err)
				}
			}()

			testutil.WaitFor(t, 5*time.Second, "the leader's no-op at index 8", func() bool {
				return ra.State() == raft.Leader && ra.AppliedIndex() >= 8
			})
			testutil.WaitFor(t, 10*time.Second, "the follower applying index 8", func() bool {
				return rc.AppliedIndex() >= 8
			})
			disk.mu.Lock()
			failed := disk.failNext == 0
			disk.mu.Unlock()
			if !failed {
				t.Fatal("the follower's log store never failed a write: the test did not inject its fault")
			}
			for i := uint64(2); i <= 8; i++ {
				var want, got raft.Log
				if err := logsA.GetLog(i, &want); err != nil {
					t.Fatal(err)
				}
				if err := s.logs.GetLog(i, &got); err != nil || got.Term != want.Term {
					t.Fatalf("follower's entry %d: term %d, %v; the leader's has term %d", i, got.Term, err, want.Term)
				}
			}
		})
	}
}
