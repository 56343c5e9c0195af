package raftsync

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/mux"
	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
)

// Config describes one node. ID, Dir and Addr are required; every other
// field has a default that suits a small cluster on a LAN. Open validates
// the Config and returns a *ConfigError naming the first bad field.
type Config struct {
	// ID names the node in the cluster. It must stay the same across
	// restarts of the same Dir.
	ID string

	// Dir holds the node's state: the raft stable store and, by default,
	// the raft log (raft.db; a LogStore factory keeps the log in a
	// directory of its own), snapshots (snapshots/), the applied-index
	// record and a lock file. Re-opening the same Dir restores the node.
	Dir string

	// LogStore, when set, opens the store of the raft log instead of
	// raft.db (a bbolt file in hashicorp/raft-boltdb's format, two
	// fsyncs per append), for example walstore.Factory, hashicorp/raft-wal.
	// The choice is recorded in Dir when the Dir is first opened and is
	// fixed for the life of the Dir: opening it again with another store
	// fails with a *ConfigError naming LogStore and changes nothing. See
	// LogStoreFactory.
	LogStore LogStoreFactory

	// WrapStores, when set, is called once by Open with the stores it
	// opened, and the node uses the stores it returns: to instrument them,
	// inject faults, or put something in front of them. The node keeps
	// its own layers (log cache, guards) above the returned stores, so a
	// wrapper sees every write that reaches the disk. A wrapper must keep
	// the behaviour raft relies on: in particular, when the store it wraps
	// is a raft.MonotonicLogStore that says true, so must the wrapper
	// (Open refuses it otherwise, with a *ConfigError naming WrapStores,
	// as it refuses a nil store). The node closes the stores it opened
	// itself, not the wrappers.
	WrapStores func(Stores) Stores

	// Clock, when set, replaces the system clock for the node's own timing
	// (see Clock). A clock that runs slow lengthens the lease: Lease reads
	// stay linearizable only while its rate is within what
	// Consistency.DriftRatio allows. For tests; production leaves it nil.
	Clock Clock

	// Addr is the one TCP address the node listens on, for raft traffic and
	// the node's own RPC alike. ":0" or "127.0.0.1:0" picks a free port;
	// Node.Addr reports the bound address.
	Addr string

	// AdvertiseAddr is the address other nodes use to reach this one. It
	// defaults to the bound address, which must then not be unspecified
	// (0.0.0.0 or ::).
	AdvertiseAddr string

	// Bootstrap makes this node the first member of a new cluster. It is
	// ignored when Dir already holds raft state. A Dir that holds none
	// needs Bootstrap or Join: with neither, Open returns a *ConfigError
	// (a node nobody will add would wait for ever; docs/membership.md,
	// "Starting a node").
	Bootstrap bool

	// Join lists addresses of existing members. On first start, Open asks
	// them in turn, until its context ends or JoinTimeout passes, to add
	// this node; any member forwards the request to the leader. Ignored when Dir already holds
	// raft state. With autopilot on (the default) a node that joins as a
	// voter is added as a non-voter and promoted once stable; Open returns
	// once it is added.
	Join []string

	// JoinTimeout bounds the join on first start, whatever Open's context
	// says: when no member of Join has accepted the node after this long,
	// Open fails with ErrJoinTimeout, naming the addresses it tried.
	// Default 1 minute; it must not be negative.
	JoinTimeout time.Duration

	// NonVoter joins the node as a non-voting member: it replicates the
	// log and serves reads but takes no part in elections or quorums.
	NonVoter bool

	// ClusterID, when set, pins the cluster identity: Bootstrap uses it as
	// the new cluster's ID, and Open refuses a Dir or a join target that
	// belongs to another cluster. When empty, Bootstrap generates one.
	ClusterID string

	// TLS, when set, is used for every connection the node accepts and
	// makes, raft traffic and RPC alike, and makes them mutual TLS: the
	// node presents its certificate (Certificates, valid for server and
	// client use) and requires of every peer a certificate that verifies
	// against ClientCAs, or RootCAs when ClientCAs is nil, whatever
	// ClientAuth says. A config with neither pool, with no certificate, or
	// with InsecureSkipVerify is a *ConfigError. The config is not
	// modified.
	//
	// A peer's certificate must also name the node ID it acts as (see
	// Authorize): a DNS SAN equal to the ID, or a URI SAN
	// raftkit://<cluster-id>/<node-id> (NodeURI), which binds the node to
	// its cluster and needs ClusterID set.
	//
	// Without TLS every host that can reach Addr is, in effect, a member:
	// it can join, write and remove members. Open logs a warning when
	// such a node listens on an address other than loopback.
	TLS *tls.Config

	// Authorize, when set, replaces the rule that decides which peer may
	// do what (DefaultAuthorize): a join, a forwarded write, a removal, a
	// read-index or status request, each time it arrives, and a raft
	// connection (replication, votes, leadership transfer) once, when it
	// is accepted. An error refuses the request with ErrPermissionDenied
	// and changes nothing. It runs on the connection's goroutine and must
	// not block. With TLS it sees the peer's verified chains; without,
	// nil chains.
	Authorize func(PeerRequest) error

	// DialContext, when set, opens the raw connections this node makes to
	// other members (TLS and everything else still run over them): for
	// custom networks, proxies and fault injection. Default: net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Logger receives all log output, through named sub-loggers. Default: an
	// hclog logger at Info level on stderr. raft's routine messages reach
	// it demoted (an election, a joiner's missing entries, a connection
	// closed at shutdown), and a peer that cannot be reached is reported
	// at WARN at most once per PeerWarnPeriod, after PeerWarnGrace; the
	// rest go to DEBUG. docs/logging.md lists what is logged at which level.
	Logger hclog.Logger

	// MaxCommandSize bounds the size of one command given to Apply.
	// Default 4 MiB; at most 64 MiB.
	MaxCommandSize int

	// ResponseCodec decides the one form an FSM response takes in
	// ApplyResult.Response, on the leader and through a follower alike:
	// the leader encodes what the FSM returned, and the node that called
	// Apply decodes it, the leader included. Default: DefaultResponseCodec
	// ([]byte and string unchanged, an encoding.BinaryMarshaler as its
	// []byte encoding, any other value as its fmt %v string). Every member
	// must use the same codec. A nil response stays nil and an error is
	// returned as Apply's error (see ApplyErrors); neither is encoded. See
	// docs/apply.md.
	ResponseCodec ResponseCodec

	// ApplyErrors registers the sentinel errors the application's FSM
	// returns (or wraps) so that callers can test for them with errors.Is
	// on every node. An error the FSM returns for a command reaches the
	// caller of Apply as an *ApplyError, on the leader and through a
	// follower alike, carrying the error's text; when the error matches a
	// registered sentinel (errors.Is, first match in order) the
	// *ApplyError unwraps to it. Every member must register the same
	// sentinels, with distinct texts: they are matched across the network
	// by their text.
	ApplyErrors []error

	// MaxRestoreSize bounds the decompressed snapshot payload of a backup
	// that Restore spools to disk under Dir (the disk that holds the raft
	// log): a larger one is refused with ErrBadBackup wrapping
	// snapshot.ErrTooLarge, and its spool deleted, so a small compressed
	// backup that expands without bound cannot fill the disk. Zero means
	// 32 times the size of the backup's snapshot, and at least 64 MiB;
	// compressed configuration state expands about 6 times.
	MaxRestoreSize int64

	// Readiness tunes when the node reports Degraded and whether WaitReady
	// may return before Ready. See readiness.Policy.
	Readiness readiness.Policy

	// OnReadinessChange, when set, is called on every change of the node's
	// readiness state or reason, from the moment Open starts (so it sees
	// Recovering and Recovered, which happen inside Open). It runs
	// synchronously on the node's monitor and must not block.
	OnReadinessChange func(old, new readiness.Status)

	// ChangeWindow is how long SubscribeChanges gathers changes after the
	// node is Ready before it notifies. Default 50ms.
	ChangeWindow time.Duration

	// Persist tunes how often the applied index is recorded durably. See
	// readiness.PersistPolicy.
	Persist readiness.PersistPolicy

	// Consistency holds the default bounds for Stale reads and the lease's
	// clock-drift allowance. See consistency.Options.
	Consistency consistency.Options

	// ReadFence makes every read, at every level, wait until the persisted
	// applied index covers the state it served (Read: what its closure
	// saw; ReadIndex: the applied index when it returns; Fence: the index
	// named), so that no node serves older state than it served before,
	// even across a crash. It costs one group-committed fsync per batch of
	// concurrent reads.
	ReadFence bool

	// Snapshot sets when snapshots are taken and how many are kept. The
	// node snapshots as soon as Snapshot.Threshold entries were applied
	// since its newest snapshot (at most once a second, about 10% of its
	// time, only while the state is under 8 MiB, and not while it catches
	// up to its leader; docs/snapshots.md); raft's Snapshot.Interval timer
	// stays as a backstop. Each zero field takes its value from
	// snapshot.DefaultPolicy, so Snapshot{Threshold: 100} keeps the default
	// Interval, TrailingLogs and Retain. A zero TrailingLogs is thus the
	// default too; to keep no entries behind a snapshot, set
	// raft.Config.TrailingLogs to 0 in RaftConfig.
	Snapshot snapshot.Policy

	// Autopilot tunes the leader's automatic membership changes: joining
	// voters enter as non-voters and are promoted once stable, dead
	// members are removed. On by default with Consul's settings; set
	// Autopilot.Disabled when the application manages membership itself.
	// See AutopilotConfig and docs/membership.md.
	Autopilot AutopilotConfig

	// FirstElectionTimeout is how often a voter that restarts with state
	// and hears from no leader checks whether to campaign: it asks the
	// other voters for their status and, when a quorum answers, none
	// knows a leader and none has a longer log, it starts raft's election
	// (with pre-vote) at once instead of after raft's HeartbeatTimeout,
	// so that a whole cluster restarted together elects in a few round
	// trips. It checks as soon as raft starts, then every
	// FirstElectionTimeout until the node hears from a leader. Zero means
	// ElectionTimeout/10; negative disables the early election (the
	// restart fence then always lasts HeartbeatTimeout). See
	// docs/readiness.md.
	FirstElectionTimeout time.Duration

	// RaftConfig, when set, is called with the raft.Config the node built,
	// before validation, to tune timeouts and batching. The node overrides
	// LocalID, Logger and NoSnapshotRestoreOnStart after the call.
	RaftConfig func(*raft.Config)
}

const (
	defaultMaxCommandSize = 4 << 20
	maxMaxCommandSize     = 64 << 20
	// rpcFrameOverhead is the room a request frame needs beyond the command.
	rpcFrameOverhead = 64 << 10
	// tickInterval paces the readiness re-evaluation that notices time
	// passing (leader lost for too long).
	tickInterval = 100 * time.Millisecond
)

// validate checks c and fills in defaults. It returns a *ConfigError.
func (c *Config) validate() error {
	if strings.TrimSpace(c.ID) == "" {
		return &ConfigError{Field: "ID", Reason: "must not be empty"}
	}
	if len(c.ID) > 256 {
		return &ConfigError{Field: "ID", Reason: "longer than 256 bytes"}
	}
	if c.Dir == "" {
		return &ConfigError{Field: "Dir", Reason: "must not be empty"}
	}
	if c.LogStore != nil {
		if reason := checkLogStoreName(c.LogStore.Name()); reason != "" {
			return &ConfigError{Field: "LogStore", Reason: reason}
		}
	}
	if c.Addr == "" {
		return &ConfigError{Field: "Addr", Reason: "must not be empty"}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return &ConfigError{Field: "Addr", Reason: err.Error()}
	}
	if c.AdvertiseAddr != "" {
		host, port, err := net.SplitHostPort(c.AdvertiseAddr)
		if err != nil {
			return &ConfigError{Field: "AdvertiseAddr", Reason: err.Error()}
		}
		if port == "0" || port == "" {
			return &ConfigError{Field: "AdvertiseAddr", Reason: "needs a concrete port"}
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return &ConfigError{Field: "AdvertiseAddr", Reason: "must not be an unspecified address"}
		}
	}
	if c.Bootstrap && len(c.Join) > 0 {
		return &ConfigError{Field: "Join", Reason: "Bootstrap and Join are mutually exclusive: a node either starts a cluster or joins one"}
	}
	if c.Bootstrap && c.NonVoter {
		return &ConfigError{Field: "NonVoter", Reason: "a bootstrapping node must be a voter"}
	}
	for i, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return &ConfigError{Field: "Join", Reason: "entry " + strconv.Itoa(i) + ": " + err.Error()}
		}
	}
	switch {
	case c.JoinTimeout < 0:
		return &ConfigError{Field: "JoinTimeout", Reason: "must not be negative"}
	case c.JoinTimeout == 0:
		c.JoinTimeout = DefaultJoinTimeout
	}
	if len(c.ClusterID) > 128 {
		return &ConfigError{Field: "ClusterID", Reason: "longer than 128 bytes"}
	}
	if err := validateTLS(c.TLS); err != nil {
		return err
	}
	switch {
	case c.MaxCommandSize == 0:
		c.MaxCommandSize = defaultMaxCommandSize
	case c.MaxCommandSize < 0 || c.MaxCommandSize > maxMaxCommandSize:
		return &ConfigError{Field: "MaxCommandSize", Reason: "must be between 1 and 64 MiB"}
	}
	if c.MaxRestoreSize < 0 {
		return &ConfigError{Field: "MaxRestoreSize", Reason: "must not be negative"}
	}
	if err := c.Readiness.Validate(); err != nil {
		return &ConfigError{Field: "Readiness", Reason: err.Error()}
	}
	if c.ChangeWindow < 0 {
		return &ConfigError{Field: "ChangeWindow", Reason: "must not be negative"}
	}
	if err := c.Persist.Validate(); err != nil {
		return &ConfigError{Field: "Persist", Reason: err.Error()}
	}
	if err := c.Consistency.Validate(); err != nil {
		return &ConfigError{Field: "Consistency", Reason: err.Error()}
	}
	c.Snapshot = snapshotDefaults(c.Snapshot)
	if err := c.Snapshot.Validate(); err != nil {
		return &ConfigError{Field: "Snapshot", Reason: err.Error()}
	}
	if reason := c.Autopilot.validate(); reason != "" {
		return &ConfigError{Field: "Autopilot", Reason: reason}
	}
	if c.Logger == nil {
		c.Logger = hclog.New(&hclog.LoggerOptions{Name: "raftkit", Level: hclog.Info})
	}
	c.Logger = newQuietLogger(c.Logger)
	return nil
}

// DefaultRaftConfig returns the raft.Config a node starts from before
// Config.Snapshot and Config.RaftConfig are applied: raft's defaults
// except MaxAppendEntries 256 (raft's is 64; docs/BENCHMARKS.md, tuning
// sweep, has the measurement behind it).
func DefaultRaftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.MaxAppendEntries = 256
	return rc
}

// raftConfig builds the raft.Config for this node.
func (c *Config) raftConfig() (*raft.Config, error) {
	rc := DefaultRaftConfig()
	c.Snapshot.ApplyTo(rc)
	if c.RaftConfig != nil {
		c.RaftConfig(rc)
	}
	rc.LocalID = raft.ServerID(c.ID)
	rc.Logger = c.Logger.Named("raft")
	// The node restores the snapshot and replays the log itself before
	// raft starts (see recovery.go); raft must not restore it again.
	rc.NoSnapshotRestoreOnStart = true
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, &ConfigError{Field: "RaftConfig", Reason: err.Error()}
	}
	return rc, nil
}

// checkLogStoreName returns why name cannot name a LogStoreFactory, or "".
func checkLogStoreName(name string) string {
	if len(name) == 0 || len(name) > 32 {
		return fmt.Sprintf("Name() %q: must be 1 to 32 characters", name)
	}
	for i, r := range name {
		letter := r >= 'a' && r <= 'z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '-')) {
			return fmt.Sprintf("Name() %q: must be lower-case letters, digits and dashes, starting with a letter", name)
		}
	}
	switch name {
	case boltLogStore, "snapshots", spoolDirName, recordFileName:
		return fmt.Sprintf("Name() %q is reserved", name)
	}
	return ""
}

// validateTLS refuses a TLS config that cannot make mutual TLS: no CA to
// verify peers against, no certificate to present, or verification off.
func validateTLS(conf *tls.Config) error {
	if conf == nil {
		return nil
	}
	if _, err := mux.ServerConfig(conf); err != nil {
		return &ConfigError{Field: "TLS", Reason: "no CA pool to verify peers against: set RootCAs (or ClientCAs) to the cluster's CA"}
	}
	if len(conf.Certificates) == 0 && (conf.GetCertificate == nil || conf.GetClientCertificate == nil) {
		return &ConfigError{Field: "TLS", Reason: "no certificate: set Certificates (or both GetCertificate and GetClientCertificate); every member presents one to its peers"}
	}
	if conf.InsecureSkipVerify {
		return &ConfigError{Field: "TLS", Reason: "InsecureSkipVerify would let anyone pose as a member"}
	}
	return nil
}
