// Command devstack is what `make run` and `make test` call.
//
//	go run ./tools/devstack            # make run: PostgreSQL under .data/, migrations,
//	                                   # the demo county, four services and the gateway
//	go run ./tools/devstack -test -- go test ./...
//	                                   # make test: a throwaway cluster for the whole run
//
// Both install the PostgreSQL server with apt-get when its binaries are
// missing. Ctrl-C stops everything; a second run reuses .data/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/devkit/demodata"
	"github.com/tongban/tongban/services/devkit/pgcluster"
	"github.com/tongban/tongban/services/devkit/stack"
)

func main() {
	test := flag.Bool("test", false, "start a throwaway PostgreSQL, run the command after --, and remove it")
	pgPort := flag.Int("pg-port", 54329, "PostgreSQL port for make run")
	demoCases := flag.Int("demo-cases", 12000, "make run: cases of the generated demo year to load in the background (0: none)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if *test {
		err = runTests(ctx, flag.Args())
	} else {
		err = run(ctx, *pgPort, *demoCases)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func runTests(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("-test needs a command after --")
	}
	if err := stack.EnsurePostgres(ctx, os.Stderr); err != nil {
		return err
	}
	// The dashboard's and the workbench's browser tests drive Debian's
	// Chromium, the workbench's with playwright-core from npm.
	if err := stack.EnsureChromium(ctx, os.Stderr); err != nil {
		return err
	}
	root, err := stack.Root()
	if err != nil {
		return err
	}
	if err := stack.EnsureWorkbenchDeps(ctx, root, os.Stderr); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tongban-test-pg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c, err := pgcluster.Start(ctx, filepath.Join(tmp, "data"), pgcluster.Options{})
	if err != nil {
		return err
	}
	defer c.Stop() //nolint:errcheck
	fmt.Fprintf(os.Stderr, "devstack: throwaway PostgreSQL on 127.0.0.1:%d\n", c.Port)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "TEST_DATABASE_URL="+c.URL("postgres"))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}

func run(ctx context.Context, pgPort, demoCases int) error {
	root, err := stack.Root()
	if err != nil {
		return err
	}
	data := filepath.Join(root, ".data")
	if err := stack.EnsurePostgres(ctx, os.Stderr); err != nil {
		return err
	}
	fmt.Println("Tongban 通办: starting PostgreSQL (data in .data/pg)…")
	c, err := pgcluster.Start(ctx, filepath.Join(data, "pg"), pgcluster.Options{Port: pgPort, Durable: true})
	if err != nil {
		return err
	}
	defer c.Stop() //nolint:errcheck
	if err := stack.EnsureDatabase(ctx, c, "tongban"); err != nil {
		return err
	}
	// The gateway embeds the workbench's build: rebuilt first when its
	// sources changed (npm), else the committed one.
	if err := stack.EnsureWorkbenchBuild(ctx, root, os.Stdout); err != nil {
		return err
	}
	fmt.Println("building the services…")
	bin := filepath.Join(data, "bin")
	if err := stack.Build(ctx, root, bin); err != nil {
		return err
	}
	secrets, err := loadSecrets(filepath.Join(data, "secrets.env"))
	if err != nil {
		return err
	}
	password, line := demoPassword(secrets)
	if line != "" {
		if err := appendSecret(filepath.Join(data, "secrets.env"), line); err != nil {
			return err
		}
		secrets = append(secrets, line)
	}
	fmt.Println("starting the services (each applies its migrations)…")
	s, err := stack.Start(ctx, stack.Options{
		BinDir: bin, DatabaseURL: c.URL("tongban"), Ports: stack.DefaultPorts,
		LogDir: filepath.Join(data, "logs"), BlobDir: filepath.Join(data, "blobs"), Progress: os.Stdout,
		AuditHeadsDir: filepath.Join(data, "audit-heads"),
		// The secrets include the demo clock's key, with which the demo
		// year is loaded with backdated moves (democlock); make run's
		// build is the only one that honours it.
		ExtraEnv: secrets,
	})
	if err != nil {
		return err
	}
	defer s.Stop()
	for _, l := range secrets {
		if admin, ok := strings.CutPrefix(l, "TONGBAN_BOOTSTRAP_ADMIN="); ok {
			user, adminPassword, _ := strings.Cut(admin, ":")
			if err := createDemoAccounts(ctx, s.GatewayURL(), user, adminPassword, password); err != nil {
				return fmt.Errorf("demo accounts: %w", err)
			}
		}
	}
	printWelcome(s, c, data, secrets, password)
	if demoCases > 0 {
		go loadDemoYear(ctx, s.GatewayURL(), data, demoCases, secretOf(secrets, democlock.Env))
	}
	<-ctx.Done()
	fmt.Println("\nstopping…")
	return nil
}

func printWelcome(s *stack.Stack, c *pgcluster.Cluster, data string, secrets []string, password string) {
	dir := directory.Demo()
	p := stack.DefaultPorts
	fmt.Printf(`
Tongban is running for %s %s (%s).

  REST API     %s/v1/…          OpenAPI: %s/openapi/tongban.swagger.json
  readiness    %s/readyz
  gRPC         intake 127.0.0.1:%d  assignment 127.0.0.1:%d  scheduling 127.0.0.1:%d  reporting 127.0.0.1:%d
               gateway 127.0.0.1:%d (internal: the revocations the services follow)
  PostgreSQL   %s
  logs         %s
  audit heads  %s (go run ./tools/auditverify -heads %[14]s)

Demo tokens (send "Authorization: Bearer <token>"):
`, dir.County.Name, dir.County.Code, dir.County.RuleSet, s.GatewayURL(), s.GatewayURL(), s.GatewayURL(),
		p.IntakeGRPC, p.AssignmentGRPC, p.SchedulingGRPC, p.ReportingGRPC, p.GatewayGRPC, c.URL("tongban"), filepath.Join(data, "logs"),
		filepath.Join(data, "audit-heads"))
	for _, t := range dir.Tokens {
		o, _ := dir.Office(t.Office)
		fmt.Printf("  %-16s %-8s offices/%-14s %s\n", t.Token, t.Role, o.ID, o.Name)
	}
	for _, l := range secrets {
		if admin, ok := strings.CutPrefix(l, "TONGBAN_BOOTSTRAP_ADMIN="); ok {
			user, password, _ := strings.Cut(admin, ":")
			fmt.Printf("\nAccounts: the bureau's first administrator is %q, password %q (in .data/secrets.env). Sign in:\n"+
				"  curl -s -X POST %s/v1/sessions -d '{\"username\":\"%s\",\"password\":\"%s\"}'\n"+
				"then create accounts (POST /v1/accounts) and API keys for township systems (POST /v1/accounts/{name}/apiKeys).\n",
				user, password, s.GatewayURL(), user, password)
		}
	}
	fmt.Printf("\nClerk workbench: %s/workbench/   sign in with a demo account, password %q:\n", s.GatewayURL(), password)
	for _, a := range demoAccounts {
		fmt.Printf("  %-13s %s\n", a.user, a.what)
	}
	fmt.Printf("\nCounty dashboard: %s/dashboard/#token=demo-bureau   (a township's: #token=demo-xitang)\n", s.GatewayURL())
	fmt.Println("The README has a curl walk-through. Ctrl-C stops everything; data stays in .data/.")
}

// loadDemoYear pushes a generated year of cases through the services once
// per data directory, printing its progress; the dashboard fills as it
// goes. Interrupted, it resumes on the next make run (every call carries an
// idempotency key).
func loadDemoYear(ctx context.Context, gateway, data string, n int, clockKey string) {
	const seed = 2026
	marker := filepath.Join(data, fmt.Sprintf("demo-year-%d-%d.done", seed, n))
	if _, err := os.Stat(marker); err == nil {
		return
	}
	fmt.Printf("\nLoading a demo year of %d cases through the services (make run DEMO_CASES=0 skips it)…\n", n)
	start := time.Now()
	last := time.Time{}
	res, err := demodata.Load(ctx, demodata.Options{
		Gateway: gateway, Cases: n, Seed: seed, ClockKey: clockKey,
		Progress: func(done, failed int) {
			if time.Since(last) < 5*time.Second && done < n {
				return
			}
			last = time.Now()
			rate := float64(done) / time.Since(start).Seconds()
			left := time.Duration(float64(n-done)/max(rate, 0.1)) * time.Second
			fmt.Printf("  demo year: %d/%d cases (%d%%), %.0f cases/s, about %s left%s\n", done, n, done*100/n, rate, left.Round(time.Second), failedNote(failed))
		},
	})
	if err != nil {
		return // stopped; the next make run resumes
	}
	fmt.Printf("Demo year loaded: %d cases, %d API calls in %s%s. The dashboard shows it once reporting has read the feeds.\n",
		res.Cases, res.Calls, time.Since(start).Round(time.Second), failedNote(res.Failed))
	for _, e := range res.Errors {
		fmt.Println("  failed:", e)
	}
	if res.Failed == 0 {
		_ = os.WriteFile(marker, []byte(time.Now().Format(time.RFC3339)+"\n"), 0o644)
	}
}

func failedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d failed", n)
}

// loadSecrets reads the stack's secrets (identity keys) from path, creating
// them on the first run. Keeping them is what lets a second make run read
// the identity sealed by the first.
// appendSecret adds one "NAME=value" line to the secrets file.
func appendSecret(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func loadSecrets(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		lines := stack.NewSecrets()
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		return lines, nil
	}
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	// A data directory from before a secret was added gets it once.
	var more []string
	if !strings.Contains(string(b), "TONGBAN_TOKEN_SIGNING_KEYS=") {
		more = append(more, stack.NewTokenSecrets()...)
	}
	for _, l := range stack.NewCredentials() {
		name, _, _ := strings.Cut(l, "=")
		if !strings.Contains(string(b), name+"=") {
			more = append(more, l)
		}
	}
	// make run's demo tokens and demo clock were "true" switches before
	// they were credentials.
	lines = slices.DeleteFunc(lines, func(l string) bool { return l == "TONGBAN_DEMO_CLOCK=true" })
	if len(more) > 0 {
		if err := os.WriteFile(path, []byte(strings.Join(append(lines, more...), "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		lines = append(lines, more...)
	}
	return lines, nil
}

// secretOf is the value of the secret name among lines ("NAME=value").
func secretOf(lines []string, name string) string {
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, name+"="); ok {
			return v
		}
	}
	return ""
}
