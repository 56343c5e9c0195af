package main

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	noAuth := []string{"-id", "n1", "-dir", "/tmp/x", "-raft-addr", "127.0.0.1:7001", "-admin-addr", "127.0.0.1:8001", "-proxy-addr", "127.0.0.1:9001"}
	base := append([]string{"-admin-token-file", "/etc/gw/tokens"}, noAuth...)
	public := []string{"-id", "n1", "-dir", "/tmp/x", "-raft-addr", "127.0.0.1:7001", "-admin-addr", "0.0.0.0:8001", "-proxy-addr", "127.0.0.1:9001"}
	o, err := parseFlags(append(base, "-join", "127.0.0.1:7002, 127.0.0.1:7003", "-nonvoter", "-log-level", "warn", "-raft-timeout", "300ms"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.join) != 2 || o.join[1] != "127.0.0.1:7003" || !o.nonVoter || o.logLevel.String() != "warn" || o.raftTimeout != 300*time.Millisecond || !o.readFence {
		t.Fatalf("%+v", o)
	}
	bad := []struct {
		args   []string
		reason string
	}{
		{[]string{"-id", "n1"}, "-dir is required"},
		{append(base, "-bootstrap", "-join", "127.0.0.1:7002"), "exclude each other"},
		{append(base, "-bootstrap", "-nonvoter"), "must be a voter"},
		{append(base, "-join", "nohostport"), "-join"},
		{append(base, "-tls-cert", "c.pem"), "go together"},
		{append(base, "-admin-tls"), "needs -tls-cert"},
		{append(base, "-log-level", "loud"), "-log-level"},
		{append(base, "-raft-timeout", "1ms"), "minimum"},
		{append(base, "-raft-timeout", "0s"), "must be positive"},
		{append(base, "stray"), "unexpected argument"},
		// The admin API authenticates, or is on loopback on purpose.
		{noAuth, "needs authentication"},
		{append(noAuth, "-admin-tls", "-tls-cert", "c", "-tls-key", "k", "-tls-ca", "ca"), "needs authentication"},
		{append(noAuth, "-admin-client-ca", "ca.pem"), "needs -admin-tls"},
		{append(base, "-admin-insecure"), "excludes"},
		{append(public, "-admin-insecure"), "not a loopback address"},
		{[]string{"-id", "n1", "-dir", "/tmp/x", "-raft-addr", "127.0.0.1:7001", "-admin-addr", ":8001", "-proxy-addr", "127.0.0.1:9001", "-admin-insecure"}, "not a loopback address"},
		{append(base, "-no-such-flag"), "not defined"},
		{[]string{"-id", "n", "-dir", "d", "-raft-addr", "127.0.0.1:1", "-admin-addr", "127.0.0.1:1", "-proxy-addr", "127.0.0.1:2"}, "must differ"},
	}
	for _, tc := range bad {
		_, err := parseFlags(tc.args, io.Discard)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%v: err = %v, want a usage error with %q", tc.args, err, tc.reason)
		}
	}
	for _, ok := range [][]string{
		append(noAuth, "-admin-insecure"),
		{"-id", "n1", "-dir", "/tmp/x", "-raft-addr", "127.0.0.1:7001", "-admin-addr", "[::1]:8001", "-proxy-addr", "127.0.0.1:9001", "-admin-insecure"},
		{"-id", "n1", "-dir", "/tmp/x", "-raft-addr", "127.0.0.1:7001", "-admin-addr", "localhost:8001", "-proxy-addr", "127.0.0.1:9001", "-admin-insecure"},
		append(public, "-admin-tls", "-tls-cert", "c", "-tls-key", "k", "-tls-ca", "ca", "-admin-client-ca", "ca"),
		append(public, "-admin-token-file", "t", "-allow-private-upstreams"),
	} {
		if _, err := parseFlags(ok, io.Discard); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}
