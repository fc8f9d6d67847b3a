package integration

import (
	"os/exec"
	"syscall"
)

// DieWithTest makes the kernel kill cmd's process when the test's
// process dies, even without its clean-ups, as when go test's -timeout
// runs out: a throwaway server must not outlive its test. (The signal
// comes when the thread that started cmd ends; Go ends a thread only when
// a goroutine locked to it returns, which nothing here does.)
func DieWithTest(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
