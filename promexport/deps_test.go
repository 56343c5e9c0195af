package promexport_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRaftsyncDoesNotLinkPrometheus: a program that imports raftsync (and
// readiness, consistency) but not promexport links no Prometheus package,
// which is why the collectors live in a package of their own.
func TestRaftsyncDoesNotLinkPrometheus(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(goTool, "list", "-deps",
		"github.com/raftkit/raftkit/raftsync",
		"github.com/raftkit/raftkit/readiness",
		"github.com/raftkit/raftkit/consistency").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "prometheus") {
			t.Errorf("raftsync depends on %s", p)
		}
	}
}
