package main

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill a gateway process if the test binary
// dies first (a panic, a -timeout), so that no node outlives its test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
