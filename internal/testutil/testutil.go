// Package testutil holds helpers shared by raftkit's tests. It is imported
// only from _test files.
package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond until it returns true or timeout passes, then fails the
// test with msg. It stands in for a notification only where the condition
// has none to wait on; the poll interval is short so that a condition that
// holds is seen within a millisecond or two.
func WaitFor(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, msg)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
