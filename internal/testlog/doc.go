// Package testlog records what nodes log, so that tests can count log
// lines by level: the loggers it makes format like the default
// Config.Logger (hclog at Info), keep every line with its level, logger
// name and fields, and pass the lines on to t.Log at the level
// RAFTKIT_TEST_LOG names (default warn).
package testlog
