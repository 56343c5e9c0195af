//go:build race

package snapshot

// raceEnabled lets the largest Flate cases shrink under the race detector,
// which slows compress/flate about twentyfold; the plain builds run them at
// full size.
const raceEnabled = true
