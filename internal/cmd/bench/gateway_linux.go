package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill a gateway process if the bench
// command dies first, so that no node outlives its run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
