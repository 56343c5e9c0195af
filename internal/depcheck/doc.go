// Package depcheck holds a test of what a program that uses raftkit with its
// default stores links: none of raft-wal's dependencies and none of
// raftkit's test seams. It has no code of its own.
package depcheck
