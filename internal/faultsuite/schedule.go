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

	// The kinds below were added on 2026-12-02. Generate draws them from
	// a second random stream after every earlier draw, so that a seed's
	// earlier events stay exactly what they were.

	// TransferHeld asks the leader to hand leadership over while the
	// TimeoutNow raft sends the target is held in the network (faultnet
	// StallMatching): raft reports the transfer timed out while its
	// TimeoutNow is still in flight. At Release the TimeoutNow goes
	// through and, from then until the end, what every other member sends
	// the old leader is held.
	TransferHeld Kind = "transfer-held"
	// Join adds spare member Nodes[0] (a voter, or a non-voter when
	// NonVoter) and removes it again at the end.
	Join Kind = "join"
	// Remove removes member Nodes[0] from the configuration through
	// another member, leaves it running (it must stop reporting Ready),
	// and at the end closes it and adds it back with an empty Dir.
	Remove Kind = "remove"
	// FastRestart crashes a member and restarts it after For, sooner than
	// MinDowntime: raftsync's restart vote fence must keep the lease's
	// promise. A run of them on one member is a crash-restart loop.
	FastRestart Kind = "fast-restart"
	// Backup takes a Backup on a member while the workload runs; the
	// backup must decode.
	Backup Kind = "backup"
)

// Kinds lists every fault kind.
func Kinds() []Kind {
	return []Kind{Partition, IsolateLeader, Block, Stall, Delay, Flaky, Reset, Pause, PauseLeader,
		Crash, CrashLeader, Restart, Transfer, DiskFull, DiskStall, DiskPartial, VoteFail,
		TransferHeld, Join, Remove, FastRestart, Backup}
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
	case TransferHeld:
		return "transfer"
	case Join, Remove:
		return "membership"
	case FastRestart:
		return "fast-restart"
	case Backup:
		return "backup"
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
	// Release is, for TransferHeld, when (from At) the held bytes toward
	// the target are released.
	Release time.Duration `json:"release,omitempty"`
	// NonVoter makes a Join add a non-voter.
	NonVoter bool `json:"non_voter,omitempty"`
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
	case TransferHeld:
		fmt.Fprintf(&b, " release=+%v", e.Release)
	case Join:
		if e.NonVoter {
			b.WriteString(" non-voter")
		}
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
	// Spares are members configured but not started: Join events add
	// them. Their indexes follow the members'.
	Spares int `json:"spares,omitempty"`
	// ClockRates, when set, gives each member (spares included) a clock
	// for its lease, readiness and persistence timing that runs at that
	// rate times real time (raft's own timers, and the promises followers
	// measure, keep real time). Within DriftBound of 1 the lease must stay
	// safe.
	ClockRates []float64 `json:"clock_rates,omitempty"`
	// BeyondDrift marks a schedule whose ClockRates break the lease's
	// drift bound: linearizability violations are then expected, and
	// reported apart from the violations (Result.Expected).
	BeyondDrift bool `json:"beyond_drift,omitempty"`
}

// DriftBound is the clock-rate drift the lease tolerates with the default
// consistency.LeaseOptions (DefaultDriftRatio): a leader whose clock runs
// at a rate of at least 1-DriftBound of its followers' keeps its lease
// within their promises.
const DriftBound = 0.05

// Members returns the number of members started at first (spares
// excluded).
func (s Schedule) Members() int { return s.Voters + s.NonVoters }

// Total returns the number of members, spares included.
func (s Schedule) Total() int { return s.Members() + s.Spares }

// Rate returns member i's clock rate (1 when ClockRates is not set).
func (s Schedule) Rate(i int) float64 {
	if i < len(s.ClockRates) && s.ClockRates[i] > 0 {
		return s.ClockRates[i]
	}
	return 1
}

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
	fmt.Fprintf(&b, "schedule seed=%d voters=%d non-voters=%d read-fence=%v persist=%d/%v snapshot-threshold=%d keys=%d clients=%d window=%v",
		s.Seed, s.Voters, s.NonVoters, s.ReadFence, s.PersistEvery, s.PersistInterval, s.SnapshotThreshold, s.Keys, s.Clients, s.Window)
	if s.Spares > 0 {
		fmt.Fprintf(&b, " spares=%d", s.Spares)
	}
	if s.ClockRates != nil {
		fmt.Fprintf(&b, " clock-rates=%.3f", s.ClockRates)
	}
	if s.BeyondDrift {
		b.WriteString(" BEYOND-DRIFT-BOUND (violations expected)")
	}
	b.WriteString("\n")
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
	s.addNemeses(seed)
	sort.SliceStable(s.Events, func(i, j int) bool { return s.Events[i].At < s.Events[j].At })
	return s
}

// addNemeses draws the kinds added on 2026-12-02 (transfers with held
// messages, membership changes, fast restarts and crash-restart loops,
// backups under load, clock-rate skew) from a second random stream, so
// that every earlier draw, and so every earlier event of the seed, stays
// as it was. Each takes part with modest probability, inside the same
// window.
func (s *Schedule) addNemeses(seed int64) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x2026_12_02))
	between := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Millisecond }
	voter := func() int { return r.IntN(s.Voters) }
	// Draw every decision first, so that each is the same whatever the
	// others decided.
	transfer := r.IntN(100) < 15
	membership := r.IntN(100) < 15
	spares := r.IntN(2) == 0
	fast := r.IntN(100) < 20
	backup := r.IntN(100) < 10
	skew := r.IntN(100)
	rates := make([]float64, 8) // up to 5 voters, a non-voter and 2 spares
	for i := range rates {
		rates[i] = 1 - DriftBound + r.Float64()*2*DriftBound
	}
	slow := r.IntN(8)
	slowRate := 0.5 + r.Float64()*0.3

	if membership && spares {
		s.Spares = 2
	}
	switch {
	case skew < 20: // within the bound
		s.ClockRates = rates[:s.Total()]
	case skew < 23: // beyond it: one member's clock runs at 0.5-0.8
		s.ClockRates = make([]float64, s.Total())
		for i := range s.ClockRates {
			s.ClockRates[i] = 1
		}
		s.ClockRates[slow%s.Total()] = slowRate
		s.BeyondDrift = true
	}
	fits := func(e Event) bool { return e.At+e.For <= s.Window }
	if transfer {
		t := between(0, 1500)
		for {
			e := Event{Kind: TransferHeld, At: t, Nodes: []int{voter()}}
			e.Release = between(600, 1200) // past ElectionTimeout (500ms): the transfer has timed out
			e.For = e.Release + between(200, 600)
			if !fits(e) || s.Voters < 2 {
				break
			}
			s.Events = append(s.Events, e)
			t = e.At + e.For + between(500, 1500)
		}
	}
	if membership {
		t := between(0, 1000)
		for k := 0; ; k++ {
			var e Event
			if s.Spares > 0 && k%2 == 0 {
				e = Event{Kind: Join, At: t, Nodes: []int{s.Members() + r.IntN(s.Spares)}, NonVoter: r.IntN(3) == 0, For: between(800, 2500)}
			} else {
				// Long enough for the removed member to stop saying
				// ready (removedReadyBound) while it still runs.
				e = Event{Kind: Remove, At: t, Nodes: []int{r.IntN(s.Members())}, For: removedReadyBound + between(200, 800)}
			}
			if !fits(e) {
				break
			}
			s.Events = append(s.Events, e)
			t = e.At + e.For + between(200, 800)
		}
	}
	if fast {
		t := between(0, 1000)
		for {
			// One fast restart, or a loop of 2-4 on the same member.
			x, loops := r.IntN(s.Members()), 1
			if r.IntN(2) == 0 {
				loops = 2 + r.IntN(3)
			}
			var run []Event
			at := t
			for range loops {
				e := Event{Kind: FastRestart, At: at, Nodes: []int{x}, For: between(50, 550)}
				run = append(run, e)
				at = e.At + e.For + between(100, 400)
			}
			if !fits(run[len(run)-1]) {
				break
			}
			s.Events = append(s.Events, run...)
			t = at + between(300, 1000)
		}
	}
	if backup {
		t := between(0, 1000)
		for {
			e := Event{Kind: Backup, At: t, Nodes: []int{r.IntN(s.Members())}}
			if !fits(e) {
				break
			}
			s.Events = append(s.Events, e)
			t = e.At + between(800, 2000)
		}
	}
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
	case s.Spares < 0:
		return fmt.Errorf("faultsuite: schedule %d: %d spares", s.Seed, s.Spares)
	case s.ClockRates != nil && len(s.ClockRates) != s.Total():
		return fmt.Errorf("faultsuite: schedule %d: %d clock rates for %d members", s.Seed, len(s.ClockRates), s.Total())
	}
	for i, rate := range s.ClockRates {
		if !(rate > 0) {
			return fmt.Errorf("faultsuite: schedule %d: member %d's clock rate %v is not positive", s.Seed, i, rate)
		}
		if !s.BeyondDrift && (rate < 1-DriftBound || rate > 1+DriftBound) {
			return fmt.Errorf("faultsuite: schedule %d: member %d's clock rate %v is beyond the drift bound and the schedule is not marked BeyondDrift", s.Seed, i, rate)
		}
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
			switch {
			case e.Kind == Join && (n < s.Members() || n >= s.Total()):
				return bad("member %d is not a spare", n)
			case e.Kind != Join && (n < 0 || n >= s.Members()):
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
		case FastRestart:
			if e.For <= 0 {
				return bad("down for %v", e.For)
			}
		case TransferHeld:
			if e.Release <= 0 || e.Release > e.For {
				return bad("release at +%v outside the event's %v", e.Release, e.For)
			}
			if e.Nodes[0] >= s.Voters {
				return bad("target %d is not a voter", e.Nodes[0])
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
