package faultsuite

import (
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// logRing keeps the last lines the cluster logged, to print with a
// failure instead of flooding every passing run's output.
type logRing struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

func newLogRing(size int) *logRing { return &logRing{lines: make([]string, size)} }

func (r *logRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		r.lines[r.next] = l
		r.next = (r.next + 1) % len(r.lines)
		if r.next == 0 {
			r.full = true
		}
	}
	return len(p), nil
}

// tail returns up to n of the last lines, oldest first.
func (r *logRing) tail(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []string
	if r.full {
		all = append(all, r.lines[r.next:]...)
	}
	all = append(all, r.lines[:r.next]...)
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// logger returns an hclog logger for member name writing into the ring, at
// the level named by RAFTKIT_TEST_LOG (default warn).
func (r *logRing) logger(name string) hclog.Logger {
	level := os.Getenv("RAFTKIT_TEST_LOG")
	if level == "" {
		level = "warn"
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.LevelFromString(level), Output: r})
}
