package main

import (
	"fmt"
	"slices"
	"strings"
)

// figure is one measured quantity of one system, over the repetitions.
type figure struct {
	scenario string
	system   string
	unit     string
	vals     []float64
}

// higherIsBetter reports the direction of the figure's unit: rates are
// better high, times better low.
func higherIsBetter(unit string) bool {
	switch unit {
	case "ops/s", "fraction":
		return true
	}
	return false
}

func (f *figure) sorted() []float64 {
	v := slices.Clone(f.vals)
	slices.Sort(v)
	return v
}

// median, min and max of the repetitions.
func (f *figure) median() float64 {
	v := f.sorted()
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (f *figure) min() float64 { return slices.Min(f.vals) }
func (f *figure) max() float64 { return slices.Max(f.vals) }

// figures collects every figure of a run in the order first seen.
type figures struct {
	list  []*figure
	index map[[2]string]*figure
}

func newFigures() *figures { return &figures{index: map[[2]string]*figure{}} }

// add records one repetition's value.
func (fs *figures) add(scenario, system, unit string, v float64) {
	k := [2]string{scenario, system}
	f := fs.index[k]
	if f == nil {
		f = &figure{scenario: scenario, system: system, unit: unit}
		fs.index[k] = f
		fs.list = append(fs.list, f)
	}
	f.vals = append(f.vals, v)
}

// get returns the figure, or nil.
func (fs *figures) get(scenario, system string) *figure {
	return fs.index[[2]string{scenario, system}]
}

// ratio is lib/peer for a rate and peer/lib for a time, so that above 1
// always means the library is better. ok is false when either is missing
// or zero.
func (fs *figures) ratio(scenario, lib, peer string) (float64, bool) {
	a, b := fs.get(scenario, lib), fs.get(scenario, peer)
	if a == nil || b == nil {
		return 0, false
	}
	am, bm := a.median(), b.median()
	if am == 0 || bm == 0 {
		return 0, false
	}
	if higherIsBetter(a.unit) {
		return am / bm, true
	}
	return bm / am, true
}

// pairedRatio is a comparison made repetition by repetition: one ratio
// per repetition, with their median and range.
type pairedRatio struct {
	median, min, max float64
	n                int
}

// paired compares a with b one repetition at a time: the ratio of the two
// values of each repetition (a/b for a rate, b/a for a time, so that above
// 1 means a is better), then the median and range of those ratios. The
// cells of one repetition run back to back, so each pair saw the same
// state of the machine, and the range is the noise of the comparison
// itself rather than of either side. ok is false unless both figures hold
// one non-zero value per repetition, the same number each (a failed cell
// leaves a figure short, and its values no longer line up by repetition).
func paired(a, b *figure) (pairedRatio, bool) {
	if a == nil || b == nil || len(a.vals) == 0 || len(a.vals) != len(b.vals) {
		return pairedRatio{}, false
	}
	ratios := make([]float64, len(a.vals))
	for i := range a.vals {
		x, y := a.vals[i], b.vals[i]
		if x == 0 || y == 0 {
			return pairedRatio{}, false
		}
		if higherIsBetter(a.unit) {
			ratios[i] = x / y
		} else {
			ratios[i] = y / x
		}
	}
	f := figure{vals: ratios}
	return pairedRatio{median: f.median(), min: f.min(), max: f.max(), n: len(ratios)}, true
}

// fmtValue prints v with a precision that suits its size.
func fmtValue(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	case v >= 0.01:
		return fmt.Sprintf("%.3f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}

// cell is how the table shows a figure: the median, and the range when
// there was more than one repetition.
func (f *figure) cell() string {
	if f == nil {
		return "-"
	}
	if len(f.vals) == 1 {
		return fmtValue(f.vals[0])
	}
	return fmt.Sprintf("%s [%s–%s]", fmtValue(f.median()), fmtValue(f.min()), fmtValue(f.max()))
}

// section is the first dotted part of a scenario name.
func section(scenario string) string {
	s, _, _ := strings.Cut(scenario, ".")
	return s
}
