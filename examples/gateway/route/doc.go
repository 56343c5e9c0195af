// Package route is the gateway's configuration model: routes, upstream
// groups, their validation, and the commands that change them.
//
// A Route sends requests that match its host (optional) and path prefix to
// a weighted set of upstream URLs, either listed in the route or named
// through an upstream Group. Everything the admin API accepts goes through
// DecodeRoute or DecodeGroup, which refuse unknown fields, trailing data and
// out-of-range values, and then through Validate, which names the first bad
// field in a *ValidationError (it unwraps to ErrInvalid). The state machine
// validates every command again when it applies it, so a malformed command
// can never enter the replicated state, whoever wrote it.
//
// The package knows nothing about raft or HTTP serving: it is pure data and
// rules, shared by the admin API (package admin), the state machine
// (package store) and the data plane (package proxy).
package route
