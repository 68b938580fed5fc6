package stack

import (
	"context"
	"net"
	"strings"
	"testing"
)

// TestStartRefusesTakenPorts: a stack never mistakes another process on
// its ports for its own services.
func TestStartRefusesTakenPorts(t *testing.T) {
	t.Parallel()
	ports, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ports.Gateway = l.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), Options{BinDir: t.TempDir(), Ports: ports, LogDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is taken") {
		t.Fatalf("Start with a taken port: %v", err)
	}
}
