package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeLibraryExampleBuilds: the Go program in README.md's "Use it as
// a library" builds against this module as written.
func TestReadmeLibraryExampleBuilds(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Use it as a library\n")
	if !ok {
		t.Fatal("README.md has no section \"Use it as a library\"")
	}
	_, program, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal("the section has no Go example")
	}
	program, _, _ = strings.Cut(program, "```")
	// Inside the module, so that it builds against this code; "_" keeps
	// it out of ./... while it is there.
	dir, err := os.MkdirTemp(filepath.Join("..", "..", "internal"), "_readme-example-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", os.DevNull, "./"+filepath.Base(dir))
	cmd.Dir = filepath.Join("..", "..", "internal")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's example does not build: %v\n%s", err, out)
	}
}
