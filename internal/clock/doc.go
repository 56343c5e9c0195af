// Package clock is the time source the rest of raftkit reads, so that the
// decisions which depend on time (leases, staleness bounds, degraded
// detection, coalescing windows) can be tested with a fake clock that moves
// only when the test says so.
//
// Real is the clock production code uses. Fake is for tests: its Now stands
// still until Advance is called, and timers created with AfterFunc fire,
// in deadline order, from inside Advance.
package clock
