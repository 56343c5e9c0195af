package promexport

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftkit/raftkit/raftsync"
)

// family is one metric family as documented or as collected.
type family struct {
	kind   string
	labels []string // sorted
	help   string
}

// collectedFamilies gathers what the node collector and the raft bridge
// emit for a node whose every optional family is present (autopilot known)
// and before raft reported anything.
func collectedFamilies(t *testing.T) map[string]family {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newCollector("n1", func() raftsync.Metrics {
		return raftsync.Metrics{NodeID: "n1", ClusterID: "c1", AutopilotKnown: true}
	}))
	reg.MustRegister(newRaftCollector(NewRaftSink(), func() (string, string) { return "n1", "c1" }))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]family{}
	for _, mf := range mfs {
		var labels []string
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !slices.Contains(labels, lp.GetName()) {
					labels = append(labels, lp.GetName())
				}
			}
		}
		slices.Sort(labels)
		out[mf.GetName()] = family{kind: strings.ToLower(mf.GetType().String()), labels: labels, help: mf.GetHelp()}
	}
	return out
}

func splitLabels(s string) []string {
	var out []string
	for _, l := range strings.Split(s, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// documentedInMarkdown reads the table of docs/metrics.md.
func documentedInMarkdown(t *testing.T) map[string]family {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(raftkit_\\w+)` \\| (\\w+) \\| ([\\w, ]+) \\| (.+) \\|$")
	out := map[string]family{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "| `raftkit_") {
				t.Errorf("docs/metrics.md: malformed row %q", line)
			}
			continue
		}
		if _, dup := out[m[1]]; dup {
			t.Errorf("docs/metrics.md lists %s twice", m[1])
		}
		out[m[1]] = family{kind: m[2], labels: splitLabels(m[3]), help: m[4]}
	}
	return out
}

// documentedInGoDoc reads the list in doc.go, whose labels leave out
// node_id and cluster_id.
func documentedInGoDoc(t *testing.T) map[string]family {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	item := regexp.MustCompile(`^//   - (raftkit_\w+) \((\w+)(?:; ([\w, ]+))?\): (.+)$`)
	out := map[string]family{}
	for _, line := range strings.Split(string(b), "\n") {
		m := item.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		out[m[1]] = family{kind: m[2], labels: splitLabels("node_id, cluster_id, " + m[3]), help: m[4]}
	}
	return out
}

// TestDocumentedMetricsMatchCollector: the table in docs/metrics.md and
// the list in the package documentation name exactly the families the
// collectors emit, with their types, labels and help text.
func TestDocumentedMetricsMatchCollector(t *testing.T) {
	got := collectedFamilies(t)
	if len(got) < 30 {
		t.Fatalf("only %d families collected", len(got))
	}
	for where, docs := range map[string]map[string]family{
		"docs/metrics.md": documentedInMarkdown(t),
		"doc.go":          documentedInGoDoc(t),
	} {
		for name, want := range docs {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("%s documents %s, which the collector does not emit", where, name)
			case g.kind != want.kind:
				t.Errorf("%s: %s is a %s, documented as %s", where, name, g.kind, want.kind)
			case !slices.Equal(g.labels, want.labels):
				t.Errorf("%s: %s has labels %v, documented %v", where, name, g.labels, want.labels)
			case g.help != want.help:
				t.Errorf("%s: %s help differs:\n collector: %s\n documented: %s", where, name, g.help, want.help)
			}
		}
		for name := range got {
			if _, ok := docs[name]; !ok {
				t.Errorf("%s does not document %s", where, name)
			}
		}
	}
}
