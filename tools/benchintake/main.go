// Command benchintake is `make bench-intake`: in one run, on one machine and
// one durable PostgreSQL (synchronous_commit on), it measures
//
//   - the raw SQL ceiling: pgbench (-M prepared) running the transaction a
//     registration performs, at each client count;
//   - registrations of realistic cases (about 2 kB of Chinese text) through
//     the REST gateway and over gRPC, at the same concurrency;
//   - reads through the gateway: get-by-number and a list page;
//   - bulk import (ImportCases) against raw COPY of the same rows;
//
// and prints rates, p50/p99 and the ratios as a Markdown table for
// docs/benchmarks.md. The load generator is this program (closed loop, one
// request in flight per worker), so REST and gRPC get the same requests and
// the same percentile arithmetic.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/devkit/loadgen"
	"github.com/tongban/tongban/services/devkit/stack"
	"github.com/tongban/tongban/services/platform/auth"
)

// splitList is the comma-separated items of s, none when s is empty.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func main() {
	duration := flag.Duration("duration", 20*time.Second, "length of each load run")
	clientList := flag.String("clients", "8,32", "concurrency levels")
	importRows := flag.Int("import-rows", 10000, "rows in the bulk-import comparison (an import takes at most 10000)")
	flag.IntVar(&preload, "preload", 20000, "cases imported before the first run: the county's history")
	flag.IntVar(&heavyHistory, "heavy-history", 10000, "earlier cases in the window of the petitioner the history part registers for")
	flag.StringVar(&profileTo, "profile", "", "write a CPU profile of -profile-service during the first run whose label has -profile-run to this file")
	flag.StringVar(&profileRun, "profile-run", "REST registration", "which run -profile profiles (a part of its label in the CPU table)")
	flag.StringVar(&profileService, "profile-service", "intake", "the service -profile profiles (intake, gateway, assignment, scheduling, reporting)")
	flag.StringVar(&extraEnv, "env", "", "settings for every service, comma-separated (GOGC=400,LOG_LEVEL=info)")
	flag.StringVar(&pgSettings, "pg", "", "settings for the PostgreSQL cluster, comma-separated (wal_compression=lz4,shared_buffers=512MB)")
	flag.StringVar(&only, "only", "registration,history,reads,import", "the parts to run")
	flag.StringVar(&statementsTo, "statements", "", "append each run's costliest SQL statements (pg_stat_statements) to this file")
	flag.StringVar(&pgbenchMode, "pgbench-mode", "prepared", "pgbench query mode (prepared is the ceiling; simple, extended to compare)")
	flag.StringVar(&planCacheMode, "plan-cache", "auto", "the ceiling's plan_cache_mode (auto as the services; force_custom_plan to compare)")
	flag.Parse()
	var clients []int
	for _, c := range strings.Split(*clientList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "bad -clients")
			os.Exit(2)
		}
		clients = append(clients, n)
	}
	if err := run(context.Background(), *duration, clients, *importRows); err != nil {
		fmt.Fprintln(os.Stderr, "benchintake:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dur time.Duration, clients []int, importRows int) error {
	// The gateway's per-caller limit (1,000 requests a second) would
	// measure itself in the read runs.
	env := []string{"INTAKE_PPROF=true", "ASSIGNMENT_PPROF=true", "SCHEDULING_PPROF=true", "REPORTING_PPROF=true",
		"GATEWAY_RATE_PER_TOKEN=1000000"}
	env = append(env, splitList(extraEnv)...)
	gatewayPprof := ""
	if profileService == "gateway" {
		ports, err := stack.FreePorts()
		if err != nil {
			return err
		}
		gatewayPprof = "http://127.0.0.1:" + strconv.Itoa(ports.Gateway)
		env = append(env, "GATEWAY_PPROF_ADDR=127.0.0.1:"+strconv.Itoa(ports.Gateway))
	}
	b, err := stack.StartBench(ctx, logf, stack.BenchOptions{Env: env, PostgresSettings: append(statementSettings(), splitList(pgSettings)...)})
	if err != nil {
		return err
	}
	defer b.Close()
	s, cluster, tmp := b.Stack, b.Cluster, b.Dir

	// admin is the benchmark's own connection for what it does between
	// and after runs (vacuum, waiting for the consumers, reading
	// pg_stat_activity and pg_stat_statements). One connection, named, so
	// its backend's time shows as "postgres:benchintake" in the CPU table
	// instead of landing, with each short-lived connection's exit, in the
	// postmaster's.
	adminConfig, err := pgx.ParseConfig(cluster.URL("bench"))
	if err != nil {
		return err
	}
	adminConfig.RuntimeParams["application_name"] = "benchintake"
	admin, err := pgx.ConnectConfig(ctx, adminConfig)
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())

	conn, err := grpc.NewClient(s.IntakeAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()), auth.DialToken("demo-dayun"))
	if err != nil {
		return err
	}
	defer conn.Close()
	intake := intakev1.NewIntakeServiceClient(conn)
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

	out := &strings.Builder{}
	fmt.Fprintf(out, "Run of %s on %s (%d CPUs, %s/%s), PostgreSQL with fsync and synchronous_commit on; %s per load run.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), hostname(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, dur)
	fmt.Fprintln(out, "| measurement | clients | rate /s | p50 ms | p99 ms | ratio to ceiling |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	// cpu lists, per measurement, the CPU every program used per operation,
	// from the start of the run until the consumers caught up with it.
	cpu := &strings.Builder{}
	profiled := false
	measure := func(label string, run func() int) {
		if profileTo != "" && !profiled && strings.Contains(label, profileRun) {
			profiled = true
			side := s.SideURL(profileService)
			if profileService == "gateway" {
				side = gatewayPprof
			}
			// At most 8 s: the side server's write timeout is 10 s.
			go profile(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", side, min(int(dur.Seconds()*3/4), 8)), profileTo)
		}
		quiesce(ctx, admin)
		if err := resetStatements(ctx, admin); err != nil {
			logf("statements: %v", err)
		}
		backends := backendNames(ctx, admin)
		before, io := takeCPU(backends), takeIO(ctx, admin)
		n := run()
		settle(ctx, admin)
		ioAfter := takeIO(ctx, admin)
		if err := appendStatements(ctx, admin, label, n); err != nil {
			logf("statements: %v", err)
		}
		maps.Copy(backends, backendNames(ctx, admin)) // connections opened during the run
		fmt.Fprintf(cpu, "| %s | %s | %s |\n", label, cpuLine(before, takeCPU(backends), n), ioLine(io, ioAfter, n))
	}
	if err := preloadCases(ctx, intake, admin, preload); err != nil {
		return err
	}
	for _, c := range clients {
		if !part("registration") {
			break
		}
		logf("pgbench ceiling, %d clients…", c)
		var ceiling result
		measure(fmt.Sprintf("ceiling, %d clients", c), func() int {
			ceiling, err = pgbenchRegistration(ctx, cluster, c, dur, tmp)
			return int(ceiling.rate * dur.Seconds())
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "| raw SQL: the registration transaction (pgbench -M %s, plan_cache_mode %s) | %d | %.0f | %.2f | %.2f | 1 |\n", pgbenchMode, planCacheMode, c, ceiling.rate, ceiling.p50, ceiling.p99)
		logf("REST registrations, %d clients…", c)
		var rest result
		measure(fmt.Sprintf("REST registration, %d clients", c), func() int {
			rest = load(ctx, c, dur, func(ctx context.Context, i int) error { return restCreate(ctx, httpClient, s.GatewayURL(), i) })
			return rest.done
		})
		fmt.Fprintf(out, "| REST POST /v1/cases (gateway → intake) | %d | %.0f | %.2f | %.2f | %.2f |\n", c, rest.rate, rest.p50, rest.p99, rest.rate/ceiling.rate)
		logf("gRPC registrations, %d clients…", c)
		var grpcRes result
		measure(fmt.Sprintf("gRPC registration, %d clients", c), func() int {
			grpcRes = load(ctx, c, dur, func(ctx context.Context, i int) error {
				_, err := intake.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: realisticCase(), RequestId: newID()})
				return err
			})
			return grpcRes.done
		})
		fmt.Fprintf(out, "| gRPC CreateCase | %d | %.0f | %.2f | %.2f | %.2f |\n", c, grpcRes.rate, grpcRes.p50, grpcRes.p99, grpcRes.rate/ceiling.rate)
		if c != clients[0] {
			continue
		}
		// The same with assignment, scheduling and reporting paused
		// (SIGSTOP): the registration path alone, as the ceiling is. They
		// catch up afterwards, and the CPU table counts that too.
		for _, p := range []struct {
			name, row string
			call      func(ctx context.Context, i int) error
		}{
			{"REST", "REST POST /v1/cases, the consumers paused (gateway → intake alone)", func(ctx context.Context, i int) error {
				return restCreate(ctx, httpClient, s.GatewayURL(), i)
			}},
			{"gRPC", "gRPC CreateCase, the consumers paused (intake alone)", func(ctx context.Context, i int) error {
				_, err := intake.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: realisticCase(), RequestId: newID()})
				return err
			}},
		} {
			logf("%s registrations, %d clients, the consumers paused…", p.name, c)
			var alone result
			measure(fmt.Sprintf("%s registration, %d clients, consumers paused", p.name, c), func() int {
				pauseConsumers(s)
				alone = load(ctx, c, dur, p.call)
				resumeConsumers(s)
				return alone.done
			})
			fmt.Fprintf(out, "| %s | %d | %.0f | %.2f | %.2f | %.2f |\n", p.row, c, alone.rate, alone.p50, alone.p99, alone.rate/ceiling.rate)
		}
	}

	if part("history") {
		if err := history(ctx, intake, admin, httpClient, s.GatewayURL(), clients[0], dur, out, measure); err != nil {
			return err
		}
	}
	if part("reads") {
		if err := reads(ctx, s, httpClient, cluster.URL("bench"), dur, out, measure); err != nil {
			return err
		}
	}
	if part("import") {
		logf("bulk import against COPY, %d rows…", importRows)
		var copyRate, importRate float64
		measure("COPY and ImportCases, per row", func() int {
			copyRate, importRate, err = importVsCopy(ctx, cluster.URL("bench"), intake, importRows)
			return importRows
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "| raw COPY of the same rows into a copy of intake.cases (indexes in place) | 1 | %.0f rows | | | 1 |\n", copyRate)
		fmt.Fprintf(out, "| ImportCases (gRPC stream, %d rows) | 1 | %.0f rows | | | %.2f |\n", importRows, importRate, importRate/copyRate)
		logf("bulk import, %d rows, the consumers paused…", importRows)
		var alone, everyRow float64
		measure("ImportCases per row, consumers paused", func() int {
			cases := make([]*intakev1.Case, importRows)
			for i := range cases {
				cases[i] = realisticCase()
			}
			pauseConsumers(s)
			defer resumeConsumers(s)
			var numbers []string
			if alone, numbers, err = importCases(ctx, intake, cases); err != nil {
				return importRows
			}
			everyRow, err = copyWhatImportWrote(ctx, cluster.URL("bench"), numbers)
			return importRows
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "| ImportCases, the consumers paused (intake alone) | 1 | %.0f rows | | | %.2f |\n", alone, alone/copyRate)
		fmt.Fprintf(out, "| raw COPY of every row that import wrote (cases, petitioners, events, audit entries; one transaction, indexes in place) | 1 | %.0f rows | | | %.2f |\n", everyRow, everyRow/copyRate)
		fmt.Fprintf(out, "| ImportCases alone against that COPY | | | | | %.2f |\n", alone/everyRow)
	}
	fmt.Fprint(out, "\nCPU per operation in milliseconds, by program, from the start of each run until the consumers had taken in\n"+
		"everything it registered (postgres:NAME: the backends of NAME's connections, or PostgreSQL's worker NAME;\n"+
		"postgres: the rest of the cluster, with the backends that exited during the run, such as pgbench's;\n"+
		"benchintake: the load generator; postgres:benchintake: its counting of the consumers' cases while they catch up):\n\n")
	fmt.Fprintln(out, "| measurement | CPU ms per operation | I/O per operation |")
	fmt.Fprintln(out, "|---|---|---|")
	fmt.Fprintf(cpu, "\nPeak resident memory (VmHWM) of the services by the end, MiB: %s.\n",
		peakMemory("intake", "gateway", "assignment", "scheduling", "reporting"))
	fmt.Print(out.String() + cpu.String())
	return nil
}

// reads measures get-by-number and a list page through the gateway.
func reads(ctx context.Context, s *stack.Stack, httpClient *http.Client, url string, dur time.Duration, out io.Writer, measure func(string, func() int)) error {
	numbers, err := caseNumbers(ctx, url, 2000)
	if err != nil {
		return err
	}
	if len(numbers) == 0 {
		n, err := registerSome(ctx, s, httpClient, url, 2000)
		if err != nil {
			return err
		}
		numbers = n
	}
	logf("reads…")
	readDur := min(dur, 10*time.Second)
	reads := []struct {
		label, url, token string
	}{
		{"REST GET /v1/cases/{case} (registering office: identity shown, read audited)", "/v1/cases/", "demo-dayun"},
		{"REST GET /v1/cases/{case} (the bureau: identity masked)", "/v1/cases/", "demo-bureau"},
		{"REST GET /v1/cases (page of 50, bureau)", "/v1/cases?pageSize=50", "demo-bureau"},
	}
	// Each read at 8 workers (the machine saturated: latency is mostly
	// queueing for its two cores) and at 1 (one request at a time: the
	// path's own latency).
	for _, workers := range []int{8, 1} {
		for _, r := range reads {
			var res result
			measure(fmt.Sprintf("%s, %d clients", r.label, workers), func() int {
				res = load(ctx, workers, readDur, func(ctx context.Context, i int) error {
					url := s.GatewayURL() + r.url
					if strings.HasSuffix(url, "/") {
						url += numbers[i%len(numbers)]
					}
					return restGet(ctx, httpClient, url, r.token)
				})
				return res.done
			})
			fmt.Fprintf(out, "| %s | %d | %.0f | %.2f | %.2f | |\n", r.label, workers, res.rate, res.p50, res.p99)
		}
	}
	return nil
}

// registerSome registers n cases through the gateway (when -only leaves
// the registration runs out) and returns their numbers.
func registerSome(ctx context.Context, s *stack.Stack, c *http.Client, url string, n int) ([]string, error) {
	for i := range n {
		if err := restCreate(ctx, c, s.GatewayURL(), i); err != nil {
			return nil, err
		}
	}
	return caseNumbers(ctx, url, n)
}

// consumers are the services that follow intake's feed.
var consumers = []string{"assignment", "scheduling", "reporting"}

// pauseConsumers stops the consumers (SIGSTOP) until resumeConsumers.
func pauseConsumers(s *stack.Stack) {
	for _, name := range consumers {
		if err := s.Pause(name); err != nil {
			logf("pause %s: %v", name, err)
		}
	}
}

func resumeConsumers(s *stack.Stack) {
	for _, name := range consumers {
		if err := s.Resume(name); err != nil {
			logf("resume %s: %v", name, err)
		}
	}
}

// result is a measured run: requests per second and latency percentiles
// in milliseconds.
type result struct {
	rate, p50, p99 float64
	done           int
}

// load runs fn closed loop from n workers for dur (see loadgen.Run).
func load(ctx context.Context, n int, dur time.Duration, fn func(ctx context.Context, i int) error) result {
	r := loadgen.Run(ctx, n, dur, fn)
	if r.Errors > 0 {
		logf("  %d errors, e.g. %v", r.Errors, r.FirstError)
	}
	return result{rate: r.Rate, p50: r.P50, p99: r.P99, done: r.Done}
}

func restCreate(ctx context.Context, c *http.Client, base string, _ int) error {
	return restCreateCase(ctx, c, base, realisticCase())
}

func restCreateCase(ctx context.Context, c *http.Client, base string, kase *intakev1.Case) error {
	body, err := protojson.Marshal(kase)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/cases", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer demo-dayun")
	req.Header.Set("Idempotency-Key", newID())
	return do(c, req, http.StatusCreated)
}

func restGet(ctx context.Context, c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(c, req, http.StatusOK)
}

func do(c *http.Client, req *http.Request, want int) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	// Read and dropped through a small reused buffer, so the load
	// generator's own garbage (it shares the machine) stays small.
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("bench-%x", b)
}

var (
	preload        int
	heavyHistory   int
	pgbenchMode    = "prepared"
	planCacheMode  = "auto"
	profileTo      string
	profileRun     string
	profileService string
	only           string
	extraEnv       string
	pgSettings     string
)

// part reports whether -only includes name.
func part(name string) bool {
	for _, p := range strings.Split(only, ",") {
		if strings.TrimSpace(p) == name {
			return true
		}
	}
	return false
}

func execSQL(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// settle waits until assignment, scheduling and reporting have taken in
// every case intake registered, so one measurement does not pay for the
// consumers' work left over from the one before (the REST run's events
// would otherwise be consumed during the gRPC run). It logs how long that
// took: the consumers' lag is part of the system, shown, not hidden.
func settle(ctx context.Context, conn *pgx.Conn) {
	start := time.Now()
	for time.Since(start) < 3*time.Minute {
		var intake, assignment, scheduling, reporting int64
		err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM intake.cases), (SELECT count(*) FROM assignment.cases),
			(SELECT count(*) FROM scheduling.case_offices), (SELECT count(*) FROM reporting.cases)`).Scan(&intake, &assignment, &scheduling, &reporting)
		if err != nil {
			logf("settle: %v", err)
			return
		}
		if assignment >= intake && scheduling >= intake && reporting >= intake {
			if d := time.Since(start); d > time.Second {
				logf("  the consumers caught up with %d cases in %s", intake, d.Round(100*time.Millisecond))
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	logf("settle: the consumers did not catch up within 3 minutes")
}

// quiesce starts each measurement from the same state of the database:
// the tables vacuumed and analyzed, as autovacuum keeps them in service
// (here it fell minutes behind the runs' inserts), and the dirty buffers
// written, so that no run pays for the vacuum, the analysis or the
// checkpoint the runs before it left due. What a run starts itself stays
// in it. (pgbench vacuums its own tables before a run unless told -n.)
func quiesce(ctx context.Context, conn *pgx.Conn) {
	start := time.Now()
	for _, sql := range []string{"VACUUM (ANALYZE)", "CHECKPOINT"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			logf("quiesce: %s: %v", sql, err)
		}
	}
	if d := time.Since(start); d > time.Second {
		logf("  vacuum, analysis and checkpoint before the run: %s", d.Round(100*time.Millisecond))
	}
}

// preloadCases imports n cases before the first run, a county's history
// (a county registers some 10,000–30,000 a year), registers cases over
// the API for two seconds, and waits for the consumers to take them in. The runs then measure a county in service:
// on near-empty tables the services' backends plan their statements for
// tables of a few pages (sequential scans, cached as generic plans), and
// the runs' own inserts outgrow those plans faster than autovacuum
// analyzes (a repeat look-up's seq scan reached 4 ms per registration).
func preloadCases(ctx context.Context, intake intakev1.IntakeServiceClient, admin *pgx.Conn, n int) error {
	if n <= 0 {
		return nil
	}
	logf("preloading %d cases…", n)
	for done := 0; done < n; {
		cases := make([]*intakev1.Case, min(10000, n-done))
		for i := range cases {
			cases[i] = realisticCase()
		}
		if _, _, err := importCases(ctx, intake, cases); err != nil {
			return fmt.Errorf("preload: %w", err)
		}
		done += len(cases)
	}
	// And a day's registrations over the API, each under its request id:
	// the idempotency keys an office's clients leave (imports have none).
	if r := loadgen.Run(ctx, 8, 2*time.Second, func(ctx context.Context, i int) error {
		_, err := intake.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: realisticCase(), RequestId: newID()})
		return err
	}); r.Errors > 0 {
		return fmt.Errorf("preload: %d registrations failed, e.g. %w", r.Errors, r.FirstError)
	}
	settle(ctx, admin)
	return nil
}

// profile saves a CPU profile from url to path.
func profile(url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		logf("profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		logf("profile: %v", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		logf("profile: %v", err)
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
