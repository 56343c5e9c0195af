// Package crashsim lets a test stop a raftsync node the way a killed
// process leaves its Dir, through the public Config.WrapStores: once the
// test crashes the node, the applied-index writes that follow are dropped,
// so the final record a clean Close writes never reaches the disk and the
// Dir holds the record of the last throttled write. Everything else Close
// does (raft stops, files close, the Dir lock is released) is what the end
// of the process does too. It is imported only from _test files.
package crashsim
