package raftsync

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	autopilot "github.com/hashicorp/raft-autopilot"
)

// AutopilotConfig tunes autopilot, which the leader runs to change
// membership by itself: a node that joins as a voter enters as a
// non-voter and is promoted once it has been healthy for
// ServerStabilizationTime; a member that has failed its health check for
// longer than DeadServerThreshold is removed, one at a time and never
// below MinQuorum voters. The zero value of each field selects its
// default; the defaults are Consul's. Set the same values on every node:
// whichever node leads applies its own.
//
// A member is healthy, as the leader judges it, when it answered the
// leader's last stats request, heard from the leader within
// LastContactThreshold, holds the leader's last log term and trails the
// leader's last index by at most MaxTrailingLogs entries.
type AutopilotConfig struct {
	// Disabled turns autopilot off, for applications that manage
	// membership themselves: a joining voter is added as a voter at once,
	// nothing is promoted or removed but by RemoveServer and Leave, and
	// Status carries no cluster health.
	Disabled bool

	// KeepDeadServers turns dead server cleanup off (Consul's
	// CleanupDeadServers = false): members that fail their health check
	// stay until RemoveServer removes them. Promotion still runs.
	KeepDeadServers bool

	// LastContactThreshold is how long a member may go without hearing
	// from the leader and still count as healthy. Default 200ms.
	LastContactThreshold time.Duration

	// MaxTrailingLogs is how many entries a member may trail the leader's
	// last index and still count as healthy. Default 250.
	MaxTrailingLogs uint64

	// MinQuorum is the fewest voters dead server cleanup leaves. Zero
	// means the bootstrap size: raftkit bootstraps a cluster with one
	// voter, so zero sets no floor beyond autopilot's own rules (it never
	// removes a voter when that would leave fewer voters than a majority of
	// the current ones can spare, so a two-voter cluster keeps both). Set
	// it to the size the cluster is meant to have.
	MinQuorum uint

	// ServerStabilizationTime is how long a joining voter must stay
	// healthy, without interruption, before it is promoted. The time
	// counts from the first health check of the current leader's
	// autopilot, so a change of leader starts it again. Default 10s.
	ServerStabilizationTime time.Duration

	// DeadServerThreshold is how long a member may fail its health check
	// before the leader removes it as dead (with cleanup on). It counts
	// from the last passed check, or from when the current leader's
	// autopilot first saw the member. A removed member cannot come back
	// by restarting: its Dir must be wiped and the node join again, so
	// the default is long. Default 24h (Vault's
	// dead_server_last_contact_threshold).
	DeadServerThreshold time.Duration

	// UpdateInterval is how often the leader asks every member for its
	// stats and re-evaluates health. Default 2s (raft-autopilot's), or
	// ServerStabilizationTime/5 when that is shorter.
	UpdateInterval time.Duration

	// ReconcileInterval is how often the leader promotes stable members
	// and removes dead ones. Default 10s (raft-autopilot's), or
	// ServerStabilizationTime when that is shorter.
	ReconcileInterval time.Duration
}

// Autopilot defaults. The first five are Consul's.
const (
	DefaultLastContactThreshold    = 200 * time.Millisecond
	DefaultMaxTrailingLogs         = 250
	DefaultServerStabilizationTime = 10 * time.Second
	DefaultDeadServerThreshold     = 24 * time.Hour
	DefaultAutopilotUpdate         = autopilot.DefaultUpdateInterval
	DefaultAutopilotReconcile      = autopilot.DefaultReconcileInterval
)

// validate checks c and fills in defaults; reason names the bad field.
func (c *AutopilotConfig) validate() (reason string) {
	updateUnset, reconcileUnset := c.UpdateInterval == 0, c.ReconcileInterval == 0
	durations := []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"LastContactThreshold", &c.LastContactThreshold, DefaultLastContactThreshold},
		{"ServerStabilizationTime", &c.ServerStabilizationTime, DefaultServerStabilizationTime},
		{"DeadServerThreshold", &c.DeadServerThreshold, DefaultDeadServerThreshold},
		{"UpdateInterval", &c.UpdateInterval, DefaultAutopilotUpdate},
		{"ReconcileInterval", &c.ReconcileInterval, DefaultAutopilotReconcile},
	}
	for _, f := range durations {
		switch {
		case *f.d < 0:
			return f.name + " must not be negative"
		case *f.d == 0:
			*f.d = f.def
		}
	}
	if updateUnset {
		c.UpdateInterval = min(c.UpdateInterval, max(c.ServerStabilizationTime/5, time.Millisecond))
	}
	if reconcileUnset {
		c.ReconcileInterval = min(c.ReconcileInterval, c.ServerStabilizationTime)
	}
	if c.MaxTrailingLogs == 0 {
		c.MaxTrailingLogs = DefaultMaxTrailingLogs
	}
	if c.DeadServerThreshold <= c.LastContactThreshold {
		return "DeadServerThreshold must be longer than LastContactThreshold"
	}
	return ""
}

// library returns the configuration raft-autopilot reads.
func (c *AutopilotConfig) library() *autopilot.Config {
	minQuorum := c.MinQuorum
	if minQuorum == 0 {
		minQuorum = bootstrapVoters
	}
	return &autopilot.Config{
		CleanupDeadServers:      !c.KeepDeadServers,
		LastContactThreshold:    c.LastContactThreshold,
		MaxTrailingLogs:         c.MaxTrailingLogs,
		MinQuorum:               minQuorum,
		ServerStabilizationTime: c.ServerStabilizationTime,
	}
}

// bootstrapVoters is the number of voters in the configuration Bootstrap
// writes (node.go's bootstrap).
const bootstrapVoters = 1

// ClusterHealth is the leader's autopilot view of the cluster, as of its
// last update (every AutopilotConfig.UpdateInterval). The leader sends it
// to every member with its stats request, so a follower reports it too,
// one update older.
type ClusterHealth struct {
	// Healthy: every member passed its last health check.
	Healthy bool `json:"healthy"`
	// FailureTolerance is how many voters can fail now with a quorum of
	// healthy voters left: healthy voters minus the quorum of all voters,
	// and zero when that is negative.
	FailureTolerance int `json:"failure_tolerance"`
	// Voters is the number of voters in the configuration.
	Voters int `json:"voters"`
	// Servers holds one entry per member, the leader first, then voters.
	Servers []ServerHealth `json:"servers"`
	// UpdatedAt is when the leader last re-evaluated health.
	UpdatedAt time.Time `json:"updated_at"`
}

// ServerHealth is one member's health as the leader judges it.
type ServerHealth struct {
	ID     string `json:"id"`
	Addr   string `json:"addr"`
	Leader bool   `json:"leader"`
	Voter  bool   `json:"voter"` // false for a non-voter, whether it waits for promotion or not
	// Healthy: the member passed its last health check.
	Healthy bool `json:"healthy"`
	// StableSince is when Healthy last changed (or when the leader's
	// autopilot first saw the member).
	StableSince time.Time `json:"stable_since"`
	// LastContact is how long before the last update the member had last
	// heard from the leader, as it reported; when it did not answer, how
	// long since it last did; negative when it never has. Nanoseconds in
	// JSON.
	LastContact time.Duration `json:"last_contact_ns"`
	// TrailingLogs is how many entries the member's log trailed the
	// leader's last index.
	TrailingLogs uint64 `json:"trailing_logs"`
	// PromotionPending: a non-voter that joined as a voter and waits to
	// be stable for ServerStabilizationTime.
	PromotionPending bool `json:"promotion_pending"`
	// Dead: the member has failed its health check for longer than
	// DeadServerThreshold. Cleanup removes it, one member at a time,
	// unless that would leave fewer than MinQuorum voters.
	Dead bool `json:"dead"`
}

// Membership is this node's own view of its role, from raft's latest
// configuration.
type Membership struct {
	// Role is "voter", "non-voter", "joining as voter" (a non-voter
	// waiting for autopilot to promote it), or "not a member".
	Role string
	// PromotedAt is when this node first saw itself a voter after it
	// joined as a non-voter waiting for promotion; zero otherwise.
	PromotedAt time.Time
}

// Roles reported in Membership.Role.
const (
	RoleVoter          = "voter"
	RoleNonVoter       = "non-voter"
	RoleJoiningAsVoter = "joining as voter"
	RoleNotMember      = "not a member"
)

// String renders m as the status line: "joining as voter",
// "voter, promoted at 2026-01-02T15:04:05Z", ...
func (m Membership) String() string {
	if !m.PromotedAt.IsZero() {
		return m.Role + promotedAtSep + m.PromotedAt.UTC().Format(time.RFC3339Nano)
	}
	return m.Role
}

const promotedAtSep = ", promoted at "

// MarshalText returns String: Membership is a string in JSON.
func (m Membership) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses what MarshalText returns. A malformed promotion
// time is an error and leaves m unchanged.
func (m *Membership) UnmarshalText(b []byte) error {
	role, at, found := strings.Cut(string(b), promotedAtSep)
	out := Membership{Role: role}
	if found {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return fmt.Errorf("raftsync: membership %q: %w", b, err)
		}
		out.PromotedAt = t
	}
	*m = out
	return nil
}

// roleTracker remembers when this node was promoted, and the
// cluster health the leader last reported to it. It is safe for
// concurrent use.
type roleTracker struct {
	mu         sync.Mutex
	waiting    bool // seen as a non-voter that wants to vote
	promotedAt time.Time

	health     *ClusterHealth // from healthFrom's last stats request
	healthFrom string
	healthAt   time.Time // when it arrived
}

// reported records the health a leader sent.
func (t *roleTracker) reported(leaderID string, h *ClusterHealth, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.health, t.healthFrom, t.healthAt = h, leaderID, now
}

// leaderHealth returns a copy of the health leaderID last reported, when
// it arrived less than maxAge before now; else nil.
func (t *roleTracker) leaderHealth(leaderID string, now time.Time, maxAge time.Duration) *ClusterHealth {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.health == nil || leaderID == "" || t.healthFrom != leaderID || now.Sub(t.healthAt) > maxAge {
		return nil
	}
	h := *t.health
	h.Servers = append([]ServerHealth(nil), h.Servers...)
	return &h
}

// observe records this node's suffrage (found false: not in the
// configuration) and returns its Membership.
func (t *roleTracker) observe(found bool, s raft.ServerSuffrage, wantsVoter bool, now time.Time) Membership {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !found && t.waiting:
		// Joined; the configuration that adds it has not reached it yet.
		return Membership{Role: RoleJoiningAsVoter}
	case !found:
		return Membership{Role: RoleNotMember}
	case s == raft.Voter:
		if t.waiting && t.promotedAt.IsZero() {
			t.promotedAt = now
		}
		return Membership{Role: RoleVoter, PromotedAt: t.promotedAt}
	case wantsVoter:
		t.waiting = true
		return Membership{Role: RoleJoiningAsVoter}
	default:
		return Membership{Role: RoleNonVoter}
	}
}

// joined records that this node's join was accepted; wantsVoter: it
// asked to vote and waits for promotion.
func (t *roleTracker) joined(wantsVoter bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waiting = t.waiting || wantsVoter
}

// observeRole reads raft's latest configuration and returns this node's
// role; it takes a trip through raft's main loop.
func (n *Node) observeRole() Membership {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return Membership{}
	}
	return n.roleIn(f.Configuration())
}

func (n *Node) roleIn(conf raft.Configuration) Membership {
	var found bool
	var suffrage raft.ServerSuffrage
	for _, s := range conf.Servers {
		if s.ID == raft.ServerID(n.cfg.ID) {
			found, suffrage = true, s.Suffrage
		}
	}
	return n.peers.role.observe(found, suffrage, !n.cfg.NonVoter && !n.cfg.Autopilot.Disabled, time.Now())
}

// introduceAsNonVoter reports whether a node that asks to join as a voter
// is added as a non-voter, for autopilot to promote.
func (n *Node) introduceAsNonVoter() bool { return !n.cfg.Autopilot.Disabled }

// lastLogTerm returns the term of the last entry in raft's log (or of
// the last snapshot when the log is empty). The last entry is read from
// the log cache; raft's Stats, which formats some thirty values, is the
// fallback when the entry is not there (compacted meanwhile, or the
// snapshot is newer than the log).
func (n *Node) lastLogTerm() (uint64, error) {
	if idx := n.raft.LastIndex(); idx > 0 {
		var l raft.Log
		if err := n.store.logs.GetLog(idx, &l); err == nil {
			return l.Term, nil
		}
	}
	t, err := strconv.ParseUint(n.raft.Stats()["last_log_term"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("raftsync: reading raft's last log term: %w", err)
	}
	return t, nil
}
