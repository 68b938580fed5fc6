// Package pgcluster runs a private PostgreSQL cluster from the installed
// server binaries: for `make run` (kept under .data/) and for tests (a
// throwaway directory). No Docker is needed.
//
// initdb refuses to run as root, so when the process is root the cluster
// directory is given to the "postgres" user and the server binaries run as
// that user through runuser.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cluster is a running private cluster.
type Cluster struct {
	Dir  string // data directory
	Port int
	bin  string
	as   string // user to run as, empty for the current user
}

// Options tune a cluster.
type Options struct {
	// Port to listen on, 127.0.0.1 only. 0 picks a free port.
	Port int
	// Durable keeps fsync on. Tests turn it off for speed.
	Durable bool
	// Settings are extra server settings, each "name=value" (a
	// benchmark's shared_preload_libraries=pg_stat_statements, say).
	Settings []string
}

// ErrNoServer says the PostgreSQL server binaries are not installed.
var ErrNoServer = errors.New("postgresql server binaries (initdb, pg_ctl) not found")

// BinDir finds the directory holding initdb and pg_ctl: $PG_BINDIR, then
// the newest /usr/lib/postgresql/*/bin, then $PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", ErrNoServer
}

func version(initdbPath string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdbPath))))
	return v
}

// Start initialises dir if it holds no cluster yet and starts the server.
// It refuses a directory whose server is already running.
func Start(ctx context.Context, dir string, opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Port: opts.Port, bin: bin}
	if os.Geteuid() == 0 {
		c.as = "postgres"
		if _, err := user.Lookup(c.as); err != nil {
			return nil, fmt.Errorf("running as root needs the %q user (created by the postgresql package): %w", c.as, err)
		}
	}
	if c.Port == 0 {
		if c.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := c.ownDir(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if out, err := c.run(ctx, "initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
			return nil, fmt.Errorf("initdb: %w\n%s", err, out)
		}
	}
	// A server already running on this directory belongs to someone else (a
	// second make run): never stop it. A stale postmaster.pid left by a crash
	// is not "running", and the server clears it on start.
	if _, err := c.run(ctx, "pg_ctl", "-D", dir, "status"); err == nil {
		return nil, fmt.Errorf("a PostgreSQL server is already running on %s (another make run?)", dir)
	}
	opt := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c max_connections=200", c.Port, dir)
	if !opts.Durable {
		opt += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	for _, set := range opts.Settings {
		opt += " -c " + set
	}
	if out, err := c.run(ctx, "pg_ctl", "-D", dir, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opt, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, tail(string(log), 2000))
	}
	return c, nil
}

// URL is the connection string of database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Crash stops the server the way a power cut would ("immediate": no
// checkpoint; the next start recovers from the WAL).
func (c *Cluster) Crash() error {
	out, err := c.run(context.Background(), "pg_ctl", "-D", c.Dir, "-m", "immediate", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %w\n%s", err, out)
	}
	return nil
}

// Stop shuts the server down (fast mode).
func (c *Cluster) Stop() error {
	out, err := c.run(context.Background(), "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// ownDir makes dir (and the path to it) usable by the server's user.
func (c *Cluster) ownDir() error {
	if c.as == "" {
		return nil
	}
	u, err := user.Lookup(c.as)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(c.Dir, uid, gid); err != nil {
		return err
	}
	// The server must be able to traverse every parent directory.
	for p := filepath.Dir(c.Dir); p != "/" && p != "."; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.as != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.as, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitReady waits until the server accepts TCP connections.
func (c *Cluster) WaitReady(ctx context.Context) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
