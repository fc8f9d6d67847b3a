//go:build !linux

package integration

import "os/exec"

// DieWithTest does nothing here: only Linux lets a process ask to die with
// its parent. Clean-ups still stop every server a test that ends starts.
func DieWithTest(*exec.Cmd) {}
