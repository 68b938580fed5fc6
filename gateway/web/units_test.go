package web

import (
	"os/exec"
	"testing"
)

// TestWorkbenchUnits runs the workbench's unit tests (web/workbench/test,
// Node's built-in runner: how API field paths map to form fields, the
// Chinese messages). make test installs Node.js when it is missing.
func TestWorkbenchUnits(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the workbench's unit tests (Debian: apt-get install nodejs)")
	}
	cmd := exec.Command(node, "--test", "test/")
	cmd.Dir = "../../web/workbench"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
