//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing where the kernel offers no parent-death
// signal: the run stops its nodes itself.
func dieWithParent(*exec.Cmd) {}
