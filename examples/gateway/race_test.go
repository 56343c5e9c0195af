//go:build race

package main

// raceEnabled makes the process tests build the gateway with -race too.
const raceEnabled = true
