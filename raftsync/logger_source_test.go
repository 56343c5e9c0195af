package raftsync

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every message the quiet logger matches is, word for word, a message of
// the raft and raft-autopilot versions go.mod pins: one reworded in an
// upgrade would silently go back to its old level.
func TestQuietTablesMatchPinnedSources(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}",
		"github.com/hashicorp/raft", "github.com/hashicorp/raft-autopilot").Output()
	if err != nil {
		t.Skipf("cannot locate the modules' sources: %v", err)
	}
	var src strings.Builder
	for _, dir := range strings.Fields(string(out)) {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	all := src.String()
	for msg := range routineMessages {
		if !strings.Contains(all, strconv.Quote(msg)) {
			t.Errorf("routine message %q is not in the pinned sources", msg)
		}
	}
	for msg, key := range peerFailureMessages {
		if !strings.Contains(all, strconv.Quote(msg)) || !strings.Contains(all, strconv.Quote(key)) {
			t.Errorf("peer failure message %q (peer in %q) is not in the pinned sources", msg, key)
		}
	}
}
