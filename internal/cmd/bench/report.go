package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// systemOrder is the column order of the table.
var systemOrder = []string{"raftkit", "raftkit-rec", "bareraft", "bareraft-rec", "etcd", "disk"}

// comparisons are the library/peer pairs that get a RATIO line.
var comparisons = [][2]string{
	{"raftkit", "bareraft"},
	{"raftkit", "etcd"},
	{"raftkit-rec", "bareraft-rec"},
	{"raftkit-rec", "etcd"},
}

func systemRank(s string) int {
	if i := slices.Index(systemOrder, s); i >= 0 {
		return i
	}
	return len(systemOrder)
}

// writeTable prints one table per section: a row per scenario, a column
// per system, each cell the median and [min–max] over the repetitions.
func (fs *figures) writeTable(w io.Writer) {
	var sections []string
	bySection := map[string][]string{}
	systems := map[string][]string{}
	seen := map[string]bool{}
	for _, f := range fs.list {
		sec := section(f.scenario)
		if _, ok := bySection[sec]; !ok {
			sections = append(sections, sec)
		}
		if !seen[f.scenario] {
			seen[f.scenario] = true
			bySection[sec] = append(bySection[sec], f.scenario)
		}
		if !slices.Contains(systems[sec], f.system) {
			systems[sec] = append(systems[sec], f.system)
		}
	}
	for _, sec := range sections {
		cols := systems[sec]
		slices.SortStableFunc(cols, func(a, b string) int { return systemRank(a) - systemRank(b) })
		fmt.Fprintf(w, "\n## %s\n", sec)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "scenario\tunit\t%s\n", strings.Join(cols, "\t"))
		for _, sc := range bySection[sec] {
			unit := ""
			cells := make([]string, len(cols))
			for i, sys := range cols {
				f := fs.get(sc, sys)
				cells[i] = f.cell()
				if f != nil {
					unit = f.unit
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", sc, unit, strings.Join(cells, "\t"))
		}
		tw.Flush()
	}
}

// writeLines prints the machine-readable lines: one BENCH line per figure
// (its median) and one RATIO line per library/peer comparison.
func (fs *figures) writeLines(w io.Writer) {
	for _, f := range fs.list {
		fmt.Fprintf(w, "BENCH %s %s %s %s\n", f.scenario, f.system, fmtValue(f.median()), f.unit)
	}
	done := map[string]bool{}
	for _, f := range fs.list {
		if done[f.scenario] || f.unit == "entries" {
			continue
		}
		done[f.scenario] = true
		for _, c := range comparisons {
			if r, ok := fs.ratio(f.scenario, c[0], c[1]); ok {
				fmt.Fprintf(w, "RATIO %s:%s/%s %.3f\n", f.scenario, c[0], c[1], r)
			}
		}
	}
}
