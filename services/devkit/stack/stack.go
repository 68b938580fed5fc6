// Package stack builds and runs the whole of Tongban on loopback: a
// PostgreSQL database, the four services and the gateway as real processes.
// `make run` uses it through tools/devstack, and the end-to-end tests use
// it directly.
package stack

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/devkit/pgcluster"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/protect"
	"github.com/tongban/tongban/services/platform/token"
)

// Services are the binaries in start order (the gateway last).
var Services = []string{"intake", "assignment", "scheduling", "reporting", "gateway"}

// packages maps a binary to its main package.
var packages = map[string]string{
	"intake":     "./services/intake/cmd/intake",
	"assignment": "./services/assignment/cmd/assignment",
	"scheduling": "./services/scheduling/cmd/scheduling",
	"reporting":  "./services/reporting/cmd/reporting",
	"gateway":    "./gateway/cmd/gateway",
}

// Root finds the repository root (the directory holding go.mod) from the
// working directory upwards.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Tools are the command-line tools built beside the services.
var Tools = []string{"./tools/importcases"}

// Build compiles every binary (services and tools) into outDir with one go
// build (shared work is done once).
func Build(ctx context.Context, root, outDir string) error {
	args := []string{"build", "-tags", BuildTags, "-o", outDir + string(filepath.Separator)}
	for _, s := range Services {
		args = append(args, packages[s])
	}
	args = append(args, Tools...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// Ports are the loopback ports of one stack.
type Ports struct {
	Gateway                       int
	GatewayGRPC                   int // the gateway's internal gRPC port (revocations)
	IntakeGRPC, AssignmentGRPC    int
	SchedulingGRPC, ReportingGRPC int
	IntakeHTTP, AssignmentHTTP    int
	SchedulingHTTP, ReportingHTTP int
}

// DefaultPorts are the ports of `make run` (README lists them).
var DefaultPorts = Ports{
	Gateway: 8080, GatewayGRPC: 8081,
	IntakeGRPC: 7101, IntakeHTTP: 7102,
	AssignmentGRPC: 7201, AssignmentHTTP: 7202,
	SchedulingGRPC: 7301, SchedulingHTTP: 7302,
	ReportingGRPC: 7401, ReportingHTTP: 7402,
}

// FreePorts picks unused loopback ports (for tests).
func FreePorts() (Ports, error) {
	var ps []int
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Ports{}, err
		}
		defer l.Close()
		ps = append(ps, l.Addr().(*net.TCPAddr).Port)
	}
	return Ports{ps[0], ps[9], ps[1], ps[2], ps[3], ps[4], ps[5], ps[6], ps[7], ps[8]}, nil
}

// NewSecrets returns the environment holding fresh secrets a stack needs
// (intake's identity sealing and hash keys, the token keys, the
// credentials), one "NAME=value" per entry.
func NewSecrets() []string {
	return append(append([]string{
		"INTAKE_IDENTITY_KEYS=k1:" + protect.NewKey(),
		"INTAKE_IDENTITY_KEY_ID=k1",
		"INTAKE_IDENTITY_HASH_KEY=" + protect.NewKey(),
	}, NewTokenSecrets()...), NewCredentials()...)
}

// NewCredentials are a stack's per-installation credentials: the internal
// service credential (no process has a default), the demo tokens' switch
// and the demo clock's key (honoured only by the tongbandemo build that
// Build makes).
func NewCredentials() []string {
	auditKey := audit.NewSigningKey("a1")
	k, err := audit.ParseSigningKey(auditKey)
	if err != nil {
		panic(err)
	}
	return []string{
		"TONGBAN_SERVICE_TOKEN=" + protect.NewKey(),
		"TONGBAN_DEMO_TOKENS=true",
		democlock.Env + "=" + protect.NewKey(),
		// The audit chains' heads are signed with this key and checked
		// with its public half (tools/auditverify reads it from there).
		"TONGBAN_AUDIT_SIGNING_KEY=" + auditKey,
		"TONGBAN_AUDIT_PUBLIC_KEYS=" + k.PublicKey(),
	}
}

// BuildTags are the tags of make run's and the tests' binaries: with the
// demo clock compiled in (democlock), which deploy/'s image is not.
const BuildTags = "tongbandemo"

// BootstrapAdmin is the first administrator's username in a stack's
// secrets; its password is in TONGBAN_BOOTSTRAP_ADMIN.
const BootstrapAdmin = "admin"

// NewTokenSecrets are the settings of accounts: a fresh Ed25519 signing
// key for the gateway, its public half for the services, and the first
// administrator with a random password.
func NewTokenSecrets() []string {
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		panic(err)
	}
	keys := token.NewKey("t1", seed)
	public, err := token.PublicKeys(keys)
	if err != nil {
		panic(err)
	}
	return []string{
		"TONGBAN_TOKEN_SIGNING_KEYS=" + keys, "TONGBAN_TOKEN_KEY_ID=t1", "TONGBAN_TOKEN_PUBLIC_KEYS=" + public,
		"TONGBAN_BOOTSTRAP_ADMIN=" + BootstrapAdmin + ":" + base64.RawURLEncoding.EncodeToString(seed[:12]),
	}
}

// Options configure a stack.
type Options struct {
	BinDir      string // where Build put the binaries
	DatabaseURL string // an existing, reachable database
	Ports       Ports
	LogDir      string // each process logs to LogDir/<name>.log
	BlobDir     string // intake keeps attachments' bytes here
	// AuditHeadsDir is where the processes publish their audit chains'
	// signed heads (default LogDir/audit-heads).
	AuditHeadsDir string
	ExtraEnv      []string  // e.g. LOG_LEVEL=debug, and the secrets (see NewSecrets)
	Progress      io.Writer // start-up progress; nil for none
}

// Stack is a running set of processes.
type Stack struct {
	opts  Options
	procs []*proc
}

type proc struct {
	name  string
	env   []string
	ready string // its readiness URL
	cmd   *exec.Cmd
	done  chan error
}

// GatewayURL is the base URL of the REST API.
func (s *Stack) GatewayURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(s.opts.Ports.Gateway)
}

// IntakeAddr is intake's gRPC address.
func (s *Stack) IntakeAddr() string {
	return "127.0.0.1:" + strconv.Itoa(s.opts.Ports.IntakeGRPC)
}

// GRPCAddr is a service's gRPC address: name is one of intake, assignment,
// scheduling, reporting, or gateway (its internal port).
func (s *Stack) GRPCAddr(name string) string {
	port := map[string]int{
		"intake": s.opts.Ports.IntakeGRPC, "assignment": s.opts.Ports.AssignmentGRPC,
		"scheduling": s.opts.Ports.SchedulingGRPC, "reporting": s.opts.Ports.ReportingGRPC,
		"gateway": s.opts.Ports.GatewayGRPC,
	}[name]
	return "127.0.0.1:" + strconv.Itoa(port)
}

// SideURL is the base URL of a service's side HTTP port (health, readiness,
// metrics): name is one of intake, assignment, scheduling, reporting.
func (s *Stack) SideURL(name string) string {
	port := map[string]int{
		"intake": s.opts.Ports.IntakeHTTP, "assignment": s.opts.Ports.AssignmentHTTP,
		"scheduling": s.opts.Ports.SchedulingHTTP, "reporting": s.opts.Ports.ReportingHTTP,
	}[name]
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// Start starts the services and the gateway and waits until each is ready.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if err := os.MkdirAll(opts.LogDir, 0o755); err != nil {
		return nil, err
	}
	p := opts.Ports
	addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	common := append([]string{
		"TONGBAN_DATABASE_URL=" + opts.DatabaseURL,
		"TONGBAN_INTAKE_ADDR=" + addr(p.IntakeGRPC),
		"TONGBAN_ASSIGNMENT_ADDR=" + addr(p.AssignmentGRPC),
		"TONGBAN_SCHEDULING_ADDR=" + addr(p.SchedulingGRPC),
		"TONGBAN_REPORTING_ADDR=" + addr(p.ReportingGRPC),
		"TONGBAN_GATEWAY_ADDR=" + addr(p.GatewayGRPC),
		// The collector's settings of deploy/base (GOGC=400 and a soft
		// memory limit), so that what make run and the benchmarks run is
		// what a county deploys.
		"GOGC=400", "GOMEMLIMIT=384MiB",
		"TONGBAN_AUDIT_HEADS_DIR=" + cmp.Or(opts.AuditHeadsDir, filepath.Join(opts.LogDir, "audit-heads")),
	}, opts.ExtraEnv...)
	specs := []struct {
		name  string
		env   []string
		ready string
	}{
		{"intake", []string{"INTAKE_GRPC_ADDR=" + addr(p.IntakeGRPC), "INTAKE_HTTP_ADDR=" + addr(p.IntakeHTTP), "INTAKE_BLOB_DIR=" + opts.BlobDir}, addr(p.IntakeHTTP)},
		{"assignment", []string{"ASSIGNMENT_GRPC_ADDR=" + addr(p.AssignmentGRPC), "ASSIGNMENT_HTTP_ADDR=" + addr(p.AssignmentHTTP)}, addr(p.AssignmentHTTP)},
		{"scheduling", []string{"SCHEDULING_GRPC_ADDR=" + addr(p.SchedulingGRPC), "SCHEDULING_HTTP_ADDR=" + addr(p.SchedulingHTTP)}, addr(p.SchedulingHTTP)},
		{"reporting", []string{"REPORTING_GRPC_ADDR=" + addr(p.ReportingGRPC), "REPORTING_HTTP_ADDR=" + addr(p.ReportingHTTP)}, addr(p.ReportingHTTP)},
		{"gateway", []string{"GATEWAY_HTTP_ADDR=" + addr(p.Gateway), "GATEWAY_GRPC_ADDR=" + addr(p.GatewayGRPC)}, addr(p.Gateway)},
	}
	// A port already taken (often a stack left running) would answer the
	// readiness checks for processes that failed to start: refuse instead.
	for _, port := range []int{p.IntakeGRPC, p.IntakeHTTP, p.AssignmentGRPC, p.AssignmentHTTP, p.SchedulingGRPC,
		p.SchedulingHTTP, p.ReportingGRPC, p.ReportingHTTP, p.Gateway, p.GatewayGRPC} {
		l, err := net.Listen("tcp", addr(port))
		if err != nil {
			return nil, fmt.Errorf("port %d is taken (is another Tongban still running? stop it first): %w", port, err)
		}
		l.Close()
	}
	s := &Stack{opts: opts}
	for _, sp := range specs {
		if err := s.spawn(sp.name, append(common, sp.env...), "http://"+sp.ready+"/readyz"); err != nil {
			s.Stop()
			return nil, err
		}
		if err := s.waitReady(ctx, sp.name, "http://"+sp.ready+"/readyz"); err != nil {
			s.Stop()
			return nil, err
		}
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "  %-10s ready\n", sp.name)
		}
	}
	// The services refuse accounts' tokens until they have read the
	// gateway's revocations, which they can only once it is up.
	if slices.ContainsFunc(common, func(e string) bool { return strings.HasPrefix(e, "TONGBAN_TOKEN_PUBLIC_KEYS=") }) {
		for _, sp := range specs[:len(specs)-1] {
			if err := s.waitURL(ctx, sp.name, "http://"+sp.ready+"/revocationz"); err != nil {
				s.Stop()
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *Stack) spawn(name string, env []string, ready string) error {
	logf, err := os.OpenFile(filepath.Join(s.opts.LogDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.opts.BinDir, name))
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group: a Ctrl-C in the terminal reaches devstack only,
	// which then stops the children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, env: env, ready: ready, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	s.procs = append(s.procs, p)
	return nil
}

func (s *Stack) waitReady(ctx context.Context, name, url string) error {
	return s.waitURL(ctx, name, url)
}

// waitURL waits until url answers 200 while the newest process of name
// runs.
func (s *Stack) waitURL(ctx context.Context, name, url string) error {
	p := s.latest(name)
	deadline := time.After(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-p.done:
			return fmt.Errorf("%s exited during start-up (%v); see %s", name, err, filepath.Join(s.opts.LogDir, name+".log"))
		case <-deadline:
			return fmt.Errorf("%s not ready after 60s; see %s", name, filepath.Join(s.opts.LogDir, name+".log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// latest is the newest process of name (a restart adds one).
func (s *Stack) latest(name string) *proc {
	for i := len(s.procs) - 1; i >= 0; i-- {
		if s.procs[i].name == name {
			return s.procs[i]
		}
	}
	return nil
}

// Crash kills one process with SIGKILL (no graceful shutdown: a power cut
// or an OOM kill) and waits until it is gone.
func (s *Stack) Crash(name string) error {
	p := s.latest(name)
	if p == nil {
		return fmt.Errorf("no process %q", name)
	}
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
	return nil
}

// Restart starts a stopped or crashed process again with its environment,
// plus any extra settings ("NAME=value", for this start only), and waits
// until it is ready.
func (s *Stack) Restart(ctx context.Context, name string, env ...string) error {
	p := s.latest(name)
	if p == nil {
		return fmt.Errorf("no process %q", name)
	}
	if err := s.spawn(name, append(slices.Clone(p.env), env...), p.ready); err != nil {
		return err
	}
	s.latest(name).env = p.env // the extra settings were for this start only
	return s.waitReady(ctx, name, p.ready)
}

// Pause stops one process with SIGSTOP (it keeps its connections and state
// and uses no CPU) until Resume; the benchmark measures a service without
// the consumers of its feed so.
func (s *Stack) Pause(name string) error { return s.signal(name, syscall.SIGSTOP) }

// Resume continues a paused process.
func (s *Stack) Resume(name string) error { return s.signal(name, syscall.SIGCONT) }

func (s *Stack) signal(name string, sig syscall.Signal) error {
	p := s.latest(name)
	if p == nil {
		return fmt.Errorf("no process %q", name)
	}
	return p.cmd.Process.Signal(sig)
}

// Kill stops one process with SIGTERM and waits for it; it reports the
// process's exit error (nil for a clean, graceful exit).
func (s *Stack) Kill(name string) error {
	p := s.latest(name)
	if p == nil {
		return fmt.Errorf("no process %q", name)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 20s of SIGTERM", name)
	}
}

// Stop sends SIGTERM to every process, the gateway first, and waits.
func (s *Stack) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		_ = s.Kill(s.procs[i].name)
	}
}

// EnsurePostgres installs the PostgreSQL server with apt-get when its
// binaries are missing (a fresh Debian machine).
func EnsurePostgres(ctx context.Context, w io.Writer) error {
	if _, err := pgcluster.BinDir(); err == nil {
		return nil
	}
	fmt.Fprintln(w, "PostgreSQL server not found: installing it with apt-get (Debian package postgresql)…")
	if err := aptInstall(ctx, w, "postgresql"); err != nil {
		return err
	}
	_, err := pgcluster.BinDir()
	return err
}

// Chromium is where Debian's chromium package puts the browser the
// dashboard's browser test drives.
const Chromium = "/usr/bin/chromium"

// EnsureChromium installs Debian's headless-capable Chromium (and CJK fonts,
// so screenshots show the Chinese) when the browser is missing.
func EnsureChromium(ctx context.Context, w io.Writer) error {
	if _, err := os.Stat(Chromium); err == nil {
		return nil
	}
	fmt.Fprintln(w, "Chromium not found: installing it with apt-get (Debian packages chromium, fonts-noto-cjk)…")
	return aptInstall(ctx, w, "chromium", "fonts-noto-cjk")
}

func aptInstall(ctx context.Context, w io.Writer, packages ...string) error {
	for _, args := range [][]string{{"update"}, append([]string{"install", "-y", "--no-install-recommends"}, packages...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		if os.Geteuid() != 0 {
			cmd = exec.CommandContext(ctx, "sudo", append([]string{"apt-get"}, args...)...)
		}
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %v: %w", args, err)
		}
	}
	return nil
}

// EnsureDatabase creates database name on the cluster if it is missing.
func EnsureDatabase(ctx context.Context, c *pgcluster.Cluster, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	}
	return err
}

// Bench is a durable PostgreSQL cluster in a temporary directory with a
// freshly built stack on its database "bench": what a benchmark measures.
type Bench struct {
	Cluster *pgcluster.Cluster
	*Stack
	// Dir is the temporary directory (the cluster, binaries, logs).
	Dir string
}

// BenchOptions are a benchmark's extra settings.
type BenchOptions struct {
	// Env is added to every process's environment ("NAME=value").
	Env []string
	// PostgresSettings are the cluster's extra settings ("name=value").
	PostgresSettings []string
}

// StartBench builds and starts a stack for a benchmark on a new durable
// cluster (synchronous_commit on); logf hears of the slow steps. Close
// removes everything.
func StartBench(ctx context.Context, logf func(string, ...any), opts BenchOptions) (*Bench, error) {
	if err := EnsurePostgres(ctx, os.Stderr); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "tongban-bench-")
	if err != nil {
		return nil, err
	}
	b := &Bench{Dir: tmp}
	if b.Cluster, err = pgcluster.Start(ctx, filepath.Join(tmp, "pg"), pgcluster.Options{Durable: true, Settings: opts.PostgresSettings}); err != nil {
		b.Close()
		return nil, err
	}
	root, err := Root()
	if err == nil {
		err = EnsureDatabase(ctx, b.Cluster, "bench")
	}
	if err == nil {
		logf("building…")
		err = Build(ctx, root, filepath.Join(tmp, "bin"))
	}
	var ports Ports
	if err == nil {
		ports, err = FreePorts()
	}
	if err == nil {
		b.Stack, err = Start(ctx, Options{
			BinDir: filepath.Join(tmp, "bin"), DatabaseURL: b.Cluster.URL("bench"), Ports: ports, LogDir: filepath.Join(tmp, "logs"),
			BlobDir: filepath.Join(tmp, "blobs"), ExtraEnv: append(append(NewSecrets(), "LOG_LEVEL=warn"), opts.Env...),
		})
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Close stops the stack and the cluster and removes the directory.
func (b *Bench) Close() {
	if b.Stack != nil {
		b.Stack.Stop()
	}
	if b.Cluster != nil {
		_ = b.Cluster.Stop()
	}
	_ = os.RemoveAll(b.Dir)
}
