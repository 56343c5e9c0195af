package raftsync_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftkit/raftkit/consistency"
	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
)

// soloConfig is a one-node cluster's Config on dir.
func soloConfig(t *testing.T, id, dir string) raftsync.Config {
	return raftsync.Config{ID: id, Dir: dir, Addr: "127.0.0.1:0", Bootstrap: true,
		RaftConfig: testcluster.FastRaft, Logger: testcluster.Logger(t, id)}
}

// openClose opens cfg, waits until the node is Ready and closes it.
func openClose(t *testing.T, cfg raftsync.Config) {
	t.Helper()
	n, err := raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
	if err != nil {
		t.Fatalf("Open %s: %v", cfg.ID, err)
	}
	if err := n.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("%s not ready: %v", cfg.ID, err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

// configError asserts that err is a *ConfigError for field whose message
// names every one of want.
func configError(t *testing.T, err error, field string, want ...string) {
	t.Helper()
	var ce *raftsync.ConfigError
	if !errors.As(err, &ce) || ce.Field != field || !errors.Is(err, raftsync.ErrInvalidConfig) {
		t.Fatalf("got %v, want a *ConfigError for field %s", err, field)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not name %q", err, w)
		}
	}
}

// A Dir holds one member's vote and log: opened under another ID the node
// would run with another's identity (it used to start, log an ERROR and
// never elect). Open refuses it and leaves the Dir usable by its owner.
func TestOpenRefusesDirOfAnotherNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	openClose(t, soloConfig(t, "alpha", dir))

	for _, bootstrap := range []bool{true, false} {
		cfg := soloConfig(t, "beta", dir)
		cfg.Bootstrap = bootstrap
		_, err := raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
		configError(t, err, "ID", dir, `"alpha"`, `"beta"`)
	}
	openClose(t, soloConfig(t, "alpha", dir))
}

// A Dir recorded for one cluster is refused, as a *ConfigError that is
// also ErrClusterMismatch, when Config.ClusterID names another.
func TestOpenRefusesDirOfAnotherCluster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	cfg := soloConfig(t, "n1", dir)
	cfg.ClusterID = "blue"
	openClose(t, cfg)

	cfg.ClusterID = "green"
	_, err := raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
	configError(t, err, "ClusterID", dir, `"blue"`, `"green"`)
	if !errors.Is(err, raftsync.ErrClusterMismatch) {
		t.Fatalf("%v is not ErrClusterMismatch", err)
	}
	cfg.ClusterID = "blue"
	openClose(t, cfg)
}

// A fresh Dir with neither Bootstrap nor Join would wait for ever for a
// member that nobody adds: Open refuses it at once. The same Config opens
// a Dir that holds raft state (a restart needs neither).
func TestOpenRefusesFreshDirWithoutBootstrapOrJoin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	cfg := soloConfig(t, "n1", dir)
	cfg.Bootstrap = false
	start := time.Now()
	_, err := raftsync.Open(context.Background(), cfg, testcluster.NewKV())
	configError(t, err, "Join", dir, "Bootstrap")
	t.Logf("refused after %v", time.Since(start))

	cfg.Bootstrap = true
	openClose(t, cfg)
	cfg.Bootstrap = false
	openClose(t, cfg)
}

// Open with an unreachable Join and a context that never ends returns
// once Config.JoinTimeout has passed, with ErrJoinTimeout naming the
// targets it tried; the Dir is free again afterwards.
func TestOpenJoinTimeoutBoundsBackgroundContext(t *testing.T) {
	var dead []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, ln.Addr().String())
		ln.Close()
	}
	dir := filepath.Join(t.TempDir(), "n")
	cfg := soloConfig(t, "lonely", dir)
	cfg.Bootstrap, cfg.Join, cfg.JoinTimeout = false, dead, 300*time.Millisecond

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		n, err := raftsync.Open(context.Background(), cfg, testcluster.NewKV())
		if n != nil {
			n.Close()
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Open with a background context and an unreachable Join did not return within 30s (JoinTimeout 300ms)")
	}
	took := time.Since(start)
	if !errors.Is(err, raftsync.ErrJoinTimeout) {
		t.Fatalf("Open = %v, want ErrJoinTimeout", err)
	}
	for _, a := range dead {
		if !strings.Contains(err.Error(), a) {
			t.Fatalf("error %q does not name target %s", err, a)
		}
	}
	if strings.Count(err.Error(), "raftsync:") != 1 {
		t.Errorf("error %q repeats its prefix", err)
	}
	if took < cfg.JoinTimeout {
		t.Fatalf("gave up after %v, before JoinTimeout %v", took, cfg.JoinTimeout)
	}
	t.Logf("Open returned after %v: %v", took, err)

	// The caller's own deadline, shorter than JoinTimeout, is not
	// reported as ErrJoinTimeout.
	cfg.JoinTimeout = time.Hour
	_, err = raftsync.Open(ctxTimeout(t, 300*time.Millisecond), cfg, testcluster.NewKV())
	if err == nil || errors.Is(err, raftsync.ErrJoinTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with a 300ms context = %v, want the context's deadline error", err)
	}
	cfg.Join, cfg.Bootstrap = nil, true
	openClose(t, cfg)
}

func TestJoinTimeoutMustNotBeNegative(t *testing.T) {
	cfg := soloConfig(t, "n1", t.TempDir())
	cfg.JoinTimeout = -time.Second
	_, err := raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
	configError(t, err, "JoinTimeout")
}

// Every policy struct of Config takes a default for each zero field, so a
// Config that sets one field of a policy opens, and the fields it left
// alone have their defaults.
func TestPartialPoliciesTakeDefaults(t *testing.T) {
	def := snapshot.DefaultPolicy()
	def.Retain = 0 // not in raft's config
	tests := []struct {
		name string
		set  func(*raftsync.Config)
		// wantSnapshot is the policy raft must run with.
		wantSnapshot snapshot.Policy
	}{
		{"Snapshot.Threshold only", func(c *raftsync.Config) { c.Snapshot = snapshot.Policy{Threshold: 100} },
			snapshot.Policy{Threshold: 100, Interval: def.Interval, TrailingLogs: def.TrailingLogs}},
		{"Snapshot.Interval only", func(c *raftsync.Config) { c.Snapshot = snapshot.Policy{Interval: time.Minute} },
			snapshot.Policy{Threshold: def.Threshold, Interval: time.Minute, TrailingLogs: def.TrailingLogs}},
		{"Snapshot.TrailingLogs only", func(c *raftsync.Config) { c.Snapshot = snapshot.Policy{TrailingLogs: 10} },
			snapshot.Policy{Threshold: def.Threshold, Interval: def.Interval, TrailingLogs: 10}},
		{"Snapshot.Retain only", func(c *raftsync.Config) { c.Snapshot = snapshot.Policy{Retain: 5} },
			snapshot.Policy{Threshold: def.Threshold, Interval: def.Interval, TrailingLogs: def.TrailingLogs}},
		{"Readiness.MaxLag only", func(c *raftsync.Config) { c.Readiness = readiness.Policy{MaxLag: 5} }, def},
		{"Readiness.RecoveredGrace only", func(c *raftsync.Config) { c.Readiness = readiness.Policy{RecoveredGrace: time.Second} }, def},
		{"Persist.EveryEntries only", func(c *raftsync.Config) { c.Persist = readiness.PersistPolicy{EveryEntries: 7} }, def},
		{"Persist.Interval only", func(c *raftsync.Config) { c.Persist = readiness.PersistPolicy{Interval: time.Minute} }, def},
		{"Consistency.Stale.MaxLag only", func(c *raftsync.Config) {
			c.Consistency = consistency.Options{Stale: consistency.StaleBounds{MaxLag: 3}}
		}, def},
		{"Consistency.Lease.MaxDuration only", func(c *raftsync.Config) {
			c.Consistency = consistency.Options{Lease: consistency.LeaseOptions{MaxDuration: time.Second}}
		}, def},
		{"Autopilot.MaxTrailingLogs only", func(c *raftsync.Config) {
			c.Autopilot = raftsync.AutopilotConfig{MaxTrailingLogs: 10}
		}, def},
		{"Autopilot.ServerStabilizationTime only", func(c *raftsync.Config) {
			c.Autopilot = raftsync.AutopilotConfig{ServerStabilizationTime: time.Second}
		}, def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := soloConfig(t, "n1", t.TempDir())
			tt.set(&cfg)
			n, err := raftsync.Open(ctxTimeout(t, 10*time.Second), cfg, testcluster.NewKV())
			if err != nil {
				t.Fatalf("Open with a partial policy: %v", err)
			}
			defer n.Close()
			rc := n.Raft().ReloadableConfig()
			got := snapshot.Policy{Threshold: rc.SnapshotThreshold, Interval: rc.SnapshotInterval, TrailingLogs: rc.TrailingLogs}
			if got != tt.wantSnapshot {
				t.Fatalf("raft runs with snapshot settings %+v, want %+v", got, tt.wantSnapshot)
			}
			if err := n.WaitReady(ctxTimeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
