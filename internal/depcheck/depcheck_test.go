package depcheck_test

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are import-path prefixes that a program using raftsync with the
// default (bolt) log store must not link: raft-wal and what it brings
// (the archived coreos/etcd, capnslog, go-systemd, a 2022 x/exp), and the
// test-only seams of raftkit itself.
var forbidden = []string{
	"github.com/hashicorp/raft-wal",
	"github.com/coreos/etcd",
	"github.com/coreos/pkg",
	"github.com/coreos/go-systemd",
	"golang.org/x/exp",
	"github.com/benbjohnson/immutable",
	"github.com/raftkit/raftkit/internal/testhooks",
	"github.com/raftkit/raftkit/internal/crashsim",
	"github.com/raftkit/raftkit/internal/faultsuite",
	"github.com/raftkit/raftkit/internal/testcluster",
	"github.com/raftkit/raftkit/internal/testutil",
	"github.com/raftkit/raftkit/walstore",
	// Prometheus is for programs that import promexport.
	"github.com/prometheus/client_golang",
	"github.com/raftkit/raftkit/promexport",
}

// TestDefaultStoreLinksNoWAL lists, with go list -deps, every package the
// testdata program (raftsync.Open with the default stores) is built from,
// and fails on any under a forbidden prefix.
func TestDefaultStoreLinksNoWAL(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "./testdata/defaultstore").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !contains(deps, "github.com/raftkit/raftkit/raftsync") {
		t.Fatalf("go list -deps does not list raftsync; the program no longer tests what it should:\n%s", out)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("a default-store program links %s (forbidden: %s)", d, f)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
