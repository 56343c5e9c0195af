package faultsuite

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Kind names a fault.
type Kind string

// The faults a schedule can inject. Network faults act through
// internal/faultnet, process faults through internal/testcluster, disk
// faults through a Disk on the node's raft stores.
const (
	// Partition splits the members in two sides, cut from each other.
	Partition Kind = "partition"
	// IsolateLeader cuts the current leader off from every other member.
	IsolateLeader Kind = "isolate-leader"
	// Block forbids one member to open connections to another (one way).
	Block Kind = "block"
	// Stall holds the bytes one member sends another (one way).
	Stall Kind = "stall"
	// Delay adds latency and jitter to every link of a member.
	Delay Kind = "delay"
	// Flaky makes every link of a member drop connections mid-stream at
	// random.
	Flaky Kind = "flaky"
	// Reset closes every connection of a member once.
	Reset Kind = "reset"
	// Pause holds all traffic of a member both ways, then releases it.
	Pause Kind = "pause"
	// PauseLeader pauses the current leader.
	PauseLeader Kind = "pause-leader"
	// Crash stops a member like a killed process and restarts it later
	// from the same Dir.
	Crash Kind = "crash"
	// CrashLeader crashes the current leader.
	CrashLeader Kind = "crash-leader"
	// Restart closes a member cleanly and starts it again later.
	Restart Kind = "restart"
	// Transfer asks the leader to hand leadership to another voter.
	Transfer Kind = "transfer"
	// DiskFull makes a member's log writes fail with ENOSPC.
	DiskFull Kind = "disk-full"
	// DiskStall slows every raft store write of a member.
	DiskStall Kind = "disk-stall"
	// DiskPartial makes a member's log writes store a prefix and fail.
	DiskPartial Kind = "disk-partial"
	// VoteFail makes a member unable to record votes.
	VoteFail Kind = "vote-fail"
)

// Kinds lists every fault kind.
func Kinds() []Kind {
	return []Kind{Partition, IsolateLeader, Block, Stall, Delay, Flaky, Reset, Pause, PauseLeader,
		Crash, CrashLeader, Restart, Transfer, DiskFull, DiskStall, DiskPartial, VoteFail}
}

// category groups kinds that never overlap in time within one schedule
// (their undo would otherwise undo each other's faults); kinds of
// different categories overlap freely.
func (k Kind) category() string {
	switch k {
	case Partition, IsolateLeader, Block, Stall, Pause, PauseLeader:
		return "topology"
	case Delay, Flaky, Reset:
		return "link"
	case Crash, CrashLeader, Restart, Transfer:
		return "process"
	default:
		return "disk"
	}
}

// MinDowntime is the shortest time a member stays down before it restarts.
// The lease rests on a restarted voter keeping the promise it made before
// it went down not to vote for another leader for up to raft's
// HeartbeatTimeout (500ms in the test clusters). Schedules keep members
// down at least this long. (raftsync now also refuses votes for one
// HeartbeatTimeout after a restart; shorter downtimes would test that, but
// would change every seed's schedule: see docs/ROBUSTNESS.md.)
const MinDowntime = 600 * time.Millisecond

// Event is one fault: what, when (from the start of the fault window), for
// how long, and on whom.
type Event struct {
	Kind Kind          `json:"kind"`
	At   time.Duration `json:"at"`
	For  time.Duration `json:"for"` // 0 for instant faults (Reset, Transfer)
	// Nodes are the members the fault acts on: one side of a Partition,
	// the member of a Crash, Pause, Delay, ...; the sender of a Block or
	// Stall. For the *Leader kinds they are a fallback when no leader is
	// known at that moment.
	Nodes []int `json:"nodes"`
	// Peer is the receiver of a Block or Stall.
	Peer int `json:"peer,omitempty"`
	// Delay and Jitter shape a Delay; Stall shapes a DiskStall.
	Delay  time.Duration `json:"delay,omitempty"`
	Jitter time.Duration `json:"jitter,omitempty"`
	// Rate is a Flaky link's per-chunk reset probability.
	Rate float64 `json:"rate,omitempty"`
	// AllDisks extends a disk fault to every member.
	AllDisks bool `json:"all_disks,omitempty"`
}

// String describes the event on one line: offset, duration, kind, members
// and parameters.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%6v +%-6v %-14s nodes=%v", e.At.Round(time.Millisecond), e.For.Round(time.Millisecond), e.Kind, e.Nodes)
	switch e.Kind {
	case Block, Stall:
		fmt.Fprintf(&b, " -> %d", e.Peer)
	case Delay:
		fmt.Fprintf(&b, " delay=%v jitter=%v", e.Delay, e.Jitter)
	case DiskStall:
		fmt.Fprintf(&b, " stall=%v", e.Delay)
	case Flaky:
		fmt.Fprintf(&b, " rate=%.3f", e.Rate)
	}
	if e.AllDisks {
		b.WriteString(" all-disks")
	}
	return b.String()
}

// Schedule is one run of the suite: the cluster's shape and settings, the
// workload's size and the faults. Generate makes it from a seed alone, so
// the seed reproduces it exactly.
type Schedule struct {
	Seed      int64 `json:"seed"`
	Voters    int   `json:"voters"`
	NonVoters int   `json:"non_voters"`
	// ReadFence turns on Config.ReadFence on every member.
	ReadFence bool `json:"read_fence"`
	// PersistEvery and PersistInterval set Config.Persist.
	PersistEvery    uint64        `json:"persist_every"`
	PersistInterval time.Duration `json:"persist_interval"`
	// SnapshotThreshold, when not 0, makes members snapshot and compact
	// often (trailing logs SnapshotThreshold/2), so that restarts restore
	// snapshots and laggards receive them.
	SnapshotThreshold uint64 `json:"snapshot_threshold"`
	// Keys is the number of registers the workload writes; Clients the
	// number of clients per member.
	Keys    int `json:"keys"`
	Clients int `json:"clients"`
	// Window is how long faults are injected; every fault has ended (and
	// every member is back) once it is over.
	Window time.Duration `json:"window"`
	Events []Event       `json:"events"`
}

// Members returns the number of members.
func (s Schedule) Members() int { return s.Voters + s.NonVoters }

// Counts returns how many events of each kind the schedule holds.
func (s Schedule) Counts() map[Kind]int {
	out := map[Kind]int{}
	for _, e := range s.Events {
		out[e.Kind]++
	}
	return out
}

// String describes the schedule: its settings, then one line per event.
func (s Schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schedule seed=%d voters=%d non-voters=%d read-fence=%v persist=%d/%v snapshot-threshold=%d keys=%d clients=%d window=%v\n",
		s.Seed, s.Voters, s.NonVoters, s.ReadFence, s.PersistEvery, s.PersistInterval, s.SnapshotThreshold, s.Keys, s.Clients, s.Window)
	for _, e := range s.Events {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}

// Generate returns the schedule for seed. It is a pure function of seed.
func Generate(seed int64) Schedule {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	s := Schedule{Seed: seed, Voters: 3, Keys: 3 + r.IntN(4), Clients: 2}
	if r.IntN(5) == 0 {
		s.Voters = 5
	}
	if r.IntN(4) == 0 {
		s.NonVoters = 1
	}
	s.ReadFence = r.IntN(2) == 0
	s.PersistEvery = pick(r, []uint64{1, 64, 1 << 40})
	s.PersistInterval = pick(r, []time.Duration{100 * time.Millisecond, time.Second, time.Hour})
	if r.IntN(2) == 0 {
		s.SnapshotThreshold = 32 + uint64(r.IntN(96))
	}
	s.Window = time.Duration(2500+r.IntN(3500)) * time.Millisecond

	// Each category contributes a sequence of non-overlapping events;
	// at least one category takes part.
	cats := map[string][]Kind{
		"topology": {Partition, Partition, IsolateLeader, Block, Stall, Pause, PauseLeader, PauseLeader},
		"link":     {Delay, Flaky, Reset},
		"process":  {Crash, Crash, CrashLeader, Restart, Transfer},
		"disk":     {DiskFull, DiskStall, DiskPartial, VoteFail},
	}
	odds := map[string]int{"topology": 80, "link": 40, "process": 60, "disk": 40}
	order := []string{"topology", "link", "process", "disk"}
	chosen := map[string]bool{}
	for _, c := range order {
		chosen[c] = r.IntN(100) < odds[c]
	}
	if !chosen["topology"] && !chosen["link"] && !chosen["process"] && !chosen["disk"] {
		chosen[order[r.IntN(len(order))]] = true
	}
	for _, c := range order {
		if !chosen[c] {
			continue
		}
		t := time.Duration(r.IntN(500)) * time.Millisecond
		for {
			e := s.event(r, pick(r, cats[c]), t)
			if e.At+e.For > s.Window {
				break
			}
			s.Events = append(s.Events, e)
			t = e.At + e.For + time.Duration(200+r.IntN(800))*time.Millisecond
		}
	}
	sort.SliceStable(s.Events, func(i, j int) bool { return s.Events[i].At < s.Events[j].At })
	return s
}

// event draws one event of kind k starting at t.
func (s Schedule) event(r *rand.Rand, k Kind, t time.Duration) Event {
	n := s.Members()
	e := Event{Kind: k, At: t, Nodes: []int{r.IntN(n)}}
	between := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Millisecond }
	switch k {
	case Partition:
		// One side holds up to a minority of the voters, and sometimes the
		// non-voter; the other side the rest.
		side := r.Perm(s.Voters)[:1+r.IntN(s.Voters/2)]
		if s.NonVoters > 0 && r.IntN(2) == 0 {
			side = append(side, s.Voters)
		}
		sort.Ints(side)
		e.Nodes = side
		e.For = between(400, 2000)
	case IsolateLeader, PauseLeader:
		e.For = between(400, 2000)
	case Block, Stall:
		e.Peer = (e.Nodes[0] + 1 + r.IntN(n-1)) % n
		e.For = between(400, 2000)
	case Pause:
		e.For = between(300, 2000)
	case Delay:
		e.Delay = between(5, 80)
		e.Jitter = between(0, 60)
		e.For = between(500, 2500)
	case Flaky:
		e.Rate = 0.01 + r.Float64()*0.09
		e.For = between(500, 2000)
	case Reset, Transfer:
		e.For = 0
	case Crash, CrashLeader, Restart:
		e.For = MinDowntime + between(0, 1200)
	case DiskFull, DiskPartial, VoteFail:
		e.For = between(300, 1500)
		e.AllDisks = r.IntN(3) == 0
	case DiskStall:
		e.Delay = between(20, 250)
		e.For = between(400, 1500)
		e.AllDisks = r.IntN(3) == 0
	}
	return e
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// Validate reports the first thing wrong with s, or nil: a schedule Run can
// play has at least two members, keys and clients, a positive window, and
// events of known kinds inside the window, on existing members, with
// restarts no sooner than MinDowntime and no two events of one category
// overlapping (the undo of one would undo the other).
func (s Schedule) Validate() error {
	switch {
	case s.Voters < 1 || s.NonVoters < 0 || s.Members() < 2:
		return fmt.Errorf("faultsuite: schedule %d: %d voters and %d non-voters; need at least two members, one a voter", s.Seed, s.Voters, s.NonVoters)
	case s.Keys < 1 || s.Clients < 1:
		return fmt.Errorf("faultsuite: schedule %d: %d keys, %d clients per member; need at least one of each", s.Seed, s.Keys, s.Clients)
	case s.Window <= 0:
		return fmt.Errorf("faultsuite: schedule %d: window %v", s.Seed, s.Window)
	}
	known := map[Kind]bool{}
	for _, k := range Kinds() {
		known[k] = true
	}
	end := map[string]time.Duration{} // per category, when its last event ends
	for i, e := range s.Events {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("faultsuite: schedule %d event %d (%s): %s", s.Seed, i, e, fmt.Sprintf(format, args...))
		}
		if !known[e.Kind] {
			return bad("unknown kind")
		}
		if e.At < 0 || e.For < 0 || e.At+e.For > s.Window {
			return bad("outside the window %v", s.Window)
		}
		if len(e.Nodes) == 0 {
			return bad("no member")
		}
		for _, n := range e.Nodes {
			if n < 0 || n >= s.Members() {
				return bad("member %d does not exist", n)
			}
		}
		switch e.Kind {
		case Block, Stall:
			if e.Peer < 0 || e.Peer >= s.Members() || e.Peer == e.Nodes[0] {
				return bad("peer %d", e.Peer)
			}
		case Crash, CrashLeader, Restart:
			if e.For < MinDowntime {
				return bad("down for %v, less than MinDowntime %v", e.For, MinDowntime)
			}
		case Partition:
			if len(e.Nodes) >= s.Members() {
				return bad("one side holds every member")
			}
		case Delay, DiskStall:
			if e.Delay < 0 || e.Jitter < 0 {
				return bad("negative delay")
			}
		case Flaky:
			if !(e.Rate > 0 && e.Rate <= 1) {
				return bad("rate %v outside (0, 1]", e.Rate)
			}
		}
		c := e.Kind.category()
		if i > 0 && e.At < s.Events[i-1].At {
			return bad("events out of order")
		}
		if e.At < end[c] {
			return bad("overlaps an earlier %s event", c)
		}
		end[c] = e.At + e.For
	}
	return nil
}
