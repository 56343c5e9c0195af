package testlog

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Line is one recorded log line.
type Line struct {
	Time    time.Time
	Level   hclog.Level
	Name    string // the logger's name, e.g. "node1.raft"
	Message string
	Fields  map[string]any // the line's key/value pairs
}

// String formats l about as hclog's text format does.
func (l Line) String() string {
	keys := make([]string, 0, len(l.Fields))
	for k := range l.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %s: %s", l.Time.Format("15:04:05.000"), strings.ToUpper(l.Level.String()), l.Name, l.Message)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, l.Fields[k])
	}
	return b.String()
}

// Recorder keeps the lines of every logger it made. It is safe for
// concurrent use.
type Recorder struct {
	t     testing.TB
	echo  hclog.Level
	mu    sync.Mutex
	lines []Line
	done  bool // the test has ended: t.Log would panic
}

// New returns a Recorder for t. Lines logged after the test ended are
// dropped.
func New(t testing.TB) *Recorder {
	r := &Recorder{t: t, echo: hclog.Warn}
	if v := os.Getenv("RAFTKIT_TEST_LOG"); v != "" {
		r.echo = hclog.LevelFromString(v)
	}
	t.Cleanup(func() {
		r.mu.Lock()
		r.done = true
		r.mu.Unlock()
	})
	return r
}

// Logger returns a logger named name at Info level, the default
// Config.Logger's level, that records into r.
func (r *Recorder) Logger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Info,
		JSONFormat: true,
		Output:     writer{r},
	})
}

type writer struct{ r *Recorder }

// Write takes one JSON line from hclog.
func (w writer) Write(p []byte) (int, error) {
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		w.r.add(Line{Time: time.Now(), Level: hclog.Error, Name: "testlog", Message: "unparsable log line: " + string(p)})
		return len(p), nil
	}
	l := Line{Time: time.Now(), Fields: map[string]any{}}
	for k, v := range m {
		switch k {
		case "@level":
			l.Level = hclog.LevelFromString(fmt.Sprint(v))
		case "@module":
			l.Name = fmt.Sprint(v)
		case "@message":
			l.Message = fmt.Sprint(v)
		case "@timestamp":
			if ts, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", fmt.Sprint(v)); err == nil {
				l.Time = ts
			}
		default:
			l.Fields[k] = v
		}
	}
	w.r.add(l)
	return len(p), nil
}

func (r *Recorder) add(l Line) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	r.lines = append(r.lines, l)
	if l.Level >= r.echo {
		r.t.Log(l.String())
	}
}

// Mark returns a position in the record, for Since.
func (r *Recorder) Mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

// Since returns the lines recorded after mark.
func (r *Recorder) Since(mark int) []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Line(nil), r.lines[mark:]...)
}

// Lines returns every line recorded.
func (r *Recorder) Lines() []Line { return r.Since(0) }

// AtLeast returns the lines at level or above.
func AtLeast(lines []Line, level hclog.Level) []Line {
	var out []Line
	for _, l := range lines {
		if l.Level >= level {
			out = append(out, l)
		}
	}
	return out
}

// Count returns how many lines are exactly at level.
func Count(lines []Line, level hclog.Level) int {
	n := 0
	for _, l := range lines {
		if l.Level == level {
			n++
		}
	}
	return n
}

// Summary formats the counts by level and the lines at Warn and above,
// for a failure message.
func Summary(lines []Line) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines: %d ERROR, %d WARN, %d INFO", len(lines),
		Count(lines, hclog.Error), Count(lines, hclog.Warn), Count(lines, hclog.Info))
	for _, l := range AtLeast(lines, hclog.Warn) {
		b.WriteString("\n\t")
		b.WriteString(l.String())
	}
	return b.String()
}
