package raftsync_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftkit/raftkit/internal/testcluster"
	"github.com/raftkit/raftkit/raftsync"
	"github.com/raftkit/raftkit/readiness"
	"github.com/raftkit/raftkit/snapshot"
)

func TestInvalidConfigNamesTheField(t *testing.T) {
	dir := t.TempDir()
	good := func() raftsync.Config {
		return raftsync.Config{ID: "n1", Dir: filepath.Join(dir, "n1"), Addr: "127.0.0.1:0", Bootstrap: true}
	}
	cases := []struct {
		field string
		edit  func(*raftsync.Config)
	}{
		{"ID", func(c *raftsync.Config) { c.ID = "" }},
		{"ID", func(c *raftsync.Config) { c.ID = "   " }},
		{"Dir", func(c *raftsync.Config) { c.Dir = "" }},
		{"Addr", func(c *raftsync.Config) { c.Addr = "" }},
		{"Addr", func(c *raftsync.Config) { c.Addr = "no-port" }},
		{"AdvertiseAddr", func(c *raftsync.Config) { c.AdvertiseAddr = "10.0.0.1:0" }},
		{"AdvertiseAddr", func(c *raftsync.Config) { c.AdvertiseAddr = "0.0.0.0:7000" }},
		{"AdvertiseAddr", func(c *raftsync.Config) { c.Addr = "0.0.0.0:0" }},
		{"Join", func(c *raftsync.Config) { c.Join = []string{"127.0.0.1:1"} }},
		{"Join", func(c *raftsync.Config) { c.Bootstrap = false; c.Join = []string{"missing-port"} }},
		{"NonVoter", func(c *raftsync.Config) { c.NonVoter = true }},
		{"LogStore", func(c *raftsync.Config) { c.LogStore = memFactory("Not A Name") }},
		{"MaxCommandSize", func(c *raftsync.Config) { c.MaxCommandSize = -1 }},
		{"MaxCommandSize", func(c *raftsync.Config) { c.MaxCommandSize = 1 << 30 }},
		{"Readiness", func(c *raftsync.Config) { c.Readiness.LeaderLossBound = -time.Second }},
		{"Persist", func(c *raftsync.Config) { c.Persist.Interval = -time.Second }},
		{"Snapshot", func(c *raftsync.Config) { c.Snapshot = snapshot.Policy{Retain: -1} }},
		{"RaftConfig", func(c *raftsync.Config) {
			c.RaftConfig = func(rc *raft.Config) { rc.HeartbeatTimeout = time.Microsecond }
		}},
		{"Dir", func(c *raftsync.Config) {
			f := filepath.Join(dir, "a-file")
			os.WriteFile(f, []byte("x"), 0o600)
			c.Dir = f
		}},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			cfg := good()
			tc.edit(&cfg)
			n, err := raftsync.Open(ctxTimeout(t, 5*time.Second), cfg, testcluster.NewKV())
			if err == nil {
				n.Close()
				t.Fatal("Open accepted an invalid config")
			}
			var ce *raftsync.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, raftsync.ErrInvalidConfig) {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			if ce.Field != tc.field {
				t.Fatalf("error names field %q, want %q (%v)", ce.Field, tc.field, err)
			}
		})
	}
	t.Run("nil FSM", func(t *testing.T) {
		if _, err := raftsync.Open(ctxTimeout(t, time.Second), good(), nil); !errors.Is(err, raftsync.ErrInvalidConfig) {
			t.Fatalf("Open with nil FSM = %v", err)
		}
	})
	// None of the failed Opens left the Dir locked or the port bound: a
	// valid Open of the same Dir works.
	n, err := raftsync.Open(ctxTimeout(t, 5*time.Second), good(), testcluster.NewKV())
	if err != nil {
		t.Fatalf("valid Open after failed ones: %v", err)
	}
	n.Close()
}

func TestUnreachableJoinTargetsFailOpenCleanly(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := raftsync.Config{ID: "lonely", Dir: dir, Addr: "127.0.0.1:0", Join: []string{dead}, RaftConfig: testcluster.FastRaft, Logger: testcluster.Logger(t, "lonely")}
	_, err = raftsync.Open(ctxTimeout(t, 500*time.Millisecond), cfg, testcluster.NewKV())
	if err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("Open with unreachable join target = %v, want an error naming %s", err, dead)
	}
	// The Dir is free again (goleak in TestMain checks the goroutines).
	cfg.Join = nil
	cfg.Bootstrap = true
	n, err := raftsync.Open(ctxTimeout(t, 5*time.Second), cfg, testcluster.NewKV())
	if err != nil {
		t.Fatalf("re-open after failed join: %v", err)
	}
	n.Close()
}

func TestGarbageOnNodePortLeavesClusterServing(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{})
	target := c.Followers()[0]
	payloads := [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{'K', 0xff, 0xff, 0xff, 0xff, 1, 2, 3},            // RPC kind, absurd frame length
		{'K', 0, 0, 0, 20, 99, 0, 0, 0, 0, 0, 0, 0, 1, 7}, // RPC kind, unknown type, short body
		{'R', 0xde, 0xad, 0xbe, 0xef},                     // raft kind, garbage
		{0},
	}
	random := make([]byte, 4096)
	rand.Read(random)
	payloads = append(payloads, random)
	for _, p := range payloads {
		conn, err := net.DialTimeout("tcp", target.Addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(p)
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64)
		conn.Read(buf) // the node answers with an error frame or closes; either is fine
		conn.Close()
	}
	idx := mustApply(t, target, testcluster.Set("after-garbage", "ok"))
	waitConverged(t, c, idx)
}

func TestOversizedCommandRefusedAndNothingApplied(t *testing.T) {
	c := testcluster.New(t, 3, testcluster.Options{Configure: func(_ int, cfg *raftsync.Config) { cfg.MaxCommandSize = 1024 }})
	before := c.Leader().Node.AppliedIndex()
	big := testcluster.Set("big", string(bytes.Repeat([]byte("x"), 2048)))
	for _, m := range c.Members {
		if _, err := m.Node.Apply(ctxTimeout(t, 5*time.Second), big); !errors.Is(err, raftsync.ErrTooLarge) {
			t.Fatalf("Apply of 2 KiB via %s = %v, want ErrTooLarge", m.ID, err)
		}
	}
	for _, m := range c.Members {
		if _, ok := m.KV().Get("big"); ok {
			t.Fatalf("%s applied an oversized command", m.ID)
		}
	}
	if after := c.Leader().Node.AppliedIndex(); after != before {
		t.Fatalf("applied index moved from %d to %d on refused commands", before, after)
	}
}

func TestCallsAfterCloseReturnErrClosed(t *testing.T) {
	c := testcluster.New(t, 1, testcluster.Options{})
	m := c.Members[0]
	node := m.Node
	c.Stop(m)
	if err := node.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil (idempotent)", err)
	}
	ctx := ctxTimeout(t, time.Second)
	if _, err := node.Apply(ctx, testcluster.Set("a", "b")); !errors.Is(err, raftsync.ErrClosed) {
		t.Fatalf("Apply after Close = %v", err)
	}
	if err := node.WaitReady(ctx); !errors.Is(err, raftsync.ErrClosed) {
		t.Fatalf("WaitReady after Close = %v", err)
	}
	if err := node.WaitIndex(ctx, 1); !errors.Is(err, raftsync.ErrClosed) {
		t.Fatalf("WaitIndex after Close = %v", err)
	}
	if st := node.Readiness(); st.State != readiness.Closed {
		t.Fatalf("readiness after Close = %v", st.State)
	}
}
