package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tongban/tongban/gateway/web"
)

// workbenchDir is the workbench's source folder under the repository root.
const workbenchDir = "web/workbench"

// EnsureWorkbenchDeps installs what the workbench's browser test runs with:
// Node.js and npm from Debian when missing, and the locked npm packages
// (playwright-core among them) when web/workbench/node_modules is missing or
// older than package-lock.json.
func EnsureWorkbenchDeps(ctx context.Context, root string, w io.Writer) error {
	if _, err := exec.LookPath("npm"); err != nil {
		fmt.Fprintln(w, "npm not found: installing Node.js with apt-get (Debian packages nodejs, npm)…")
		if err := aptInstall(ctx, w, "nodejs", "npm"); err != nil {
			return err
		}
	}
	dir := filepath.Join(root, workbenchDir)
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return nil
	}
	fmt.Fprintln(w, "installing the workbench's npm packages (npm ci)…")
	return npm(ctx, dir, w, "ci", "--no-audit", "--no-fund")
}

// EnsureWorkbenchBuild rebuilds the workbench into gateway/web/workbench
// when its sources changed since the committed build and npm is at hand;
// otherwise the committed build is served. It reports what it did.
func EnsureWorkbenchBuild(ctx context.Context, root string, w io.Writer) error {
	dir := filepath.Join(root, workbenchDir)
	want, err := web.SourceHash(dir)
	if err != nil {
		return err
	}
	built, _ := os.ReadFile(filepath.Join(root, "gateway", "web", "workbench", "source.sha256"))
	if strings.TrimSpace(string(built)) == want {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		fmt.Fprintln(w, "the workbench's sources changed but npm is missing: serving the committed build")
		return nil
	}
	if err := EnsureWorkbenchDeps(ctx, root, w); err != nil {
		return err
	}
	fmt.Fprintln(w, "the workbench's sources changed: building it (npm run build)…")
	return npm(ctx, dir, w, "run", "build")
}

func npm(ctx context.Context, dir string, w io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return nil
}
