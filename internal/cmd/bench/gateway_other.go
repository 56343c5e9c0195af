//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// dieWithParent does nothing where the kernel offers no parent-death
// signal: the run stops its nodes itself.
func dieWithParent(*exec.Cmd) {}

// processCPU is not measured here.
func processCPU(int) (time.Duration, bool) { return 0, false }
