// Package staleread decides whether a Stale read may be served: [Check]
// judges an [Observation] of the node (leader or not, last contact, applied
// and commit index, the time) against consistency.StaleBounds and returns
// a *consistency.TooStaleError when a bound is broken. It is a pure
// function; raftsync observes and calls it.
package staleread
