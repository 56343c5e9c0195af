package main

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lockedBuffer is a bytes.Buffer the nodes' goroutines may write to
// concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hclog's text format: "<time> [LEVEL] name: message".
var levelRE = regexp.MustCompile(`^\S+ \[(TRACE|DEBUG|INFO|WARN|ERROR)\] `)

// The quickstart runs with the default logging (Info) and logs nothing at
// WARN or ERROR: a cluster start, writes through a follower, reads at
// every level, a follower restart under writes, a backup and a restore
// are all routine.
func TestQuickstartRunsWithCleanLogs(t *testing.T) {
	var out, logs lockedBuffer
	if err := run(&out, &logs); err != nil {
		t.Fatalf("quickstart failed: %v\n%s\nlogs:\n%s", err, out.String(), logs.String())
	}
	if !strings.Contains(out.String(), "== done") {
		t.Fatalf("quickstart did not finish:\n%s", out.String())
	}
	counts := map[string]int{}
	var bad []string
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		m := levelRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue // a continuation line of a multi-line value
		}
		counts[m[1]]++
		if m[1] == "WARN" || m[1] == "ERROR" {
			bad = append(bad, sc.Text())
		}
	}
	t.Logf("quickstart output:\n%s", out.String())
	t.Logf("log lines by level: %v", counts)
	if counts["INFO"] == 0 {
		t.Fatalf("no INFO lines: logging is not on at its default level\n%s", logs.String())
	}
	if len(bad) > 0 {
		t.Fatalf("%d WARN/ERROR lines:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}
