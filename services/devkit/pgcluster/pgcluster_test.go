package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartTwice: a second Start on a running cluster's directory refuses
// and leaves the first server running; after Stop, Start reuses the data.
func TestStartTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "tongban-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "data")
	c, err := Start(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Start(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second start: %v", err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("the first server is gone: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	again, err := Start(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("restart on the same data: %v", err)
	}
	if err := again.Stop(); err != nil {
		t.Fatal(err)
	}
}
