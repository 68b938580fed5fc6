// Command benchreporting is `make bench-reporting`: it fills reporting's
// read model with N cases' worth of rows (default 1 million, spread over
// 24 months, every township, channel, class, topic and outcome, with
// running clocks around today), then measures the dashboard's API calls
// through the gateway and, in the same run, the raw SQL beside them: the
// pre-aggregated queries the service sends, and the naive count over the
// cases that the aggregates replace. It prints a Markdown table for
// docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/devkit/loadgen"
	"github.com/tongban/tongban/services/devkit/stack"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/reporting/internal/store"
)

func main() {
	cases := flag.Int("cases", 1_000_000, "cases in the read model (10000000 needs a few GB of disk and several minutes to fill)")
	dur := flag.Duration("duration", 10*time.Second, "length of each measurement")
	flag.Parse()
	ctx := context.Background()
	if err := run(ctx, *cases, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "benchreporting:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func run(ctx context.Context, n int, dur time.Duration) error {
	b, err := stack.StartBench(ctx, logf, stack.BenchOptions{})
	if err != nil {
		return err
	}
	defer b.Close()
	s, cluster := b.Stack, b.Cluster

	cfg, err := pgxpool.ParseConfig(cluster.URL("bench"))
	if err != nil {
		return err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = "reporting"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := &store.Store{Pool: pool}

	now := time.Now().In(calendar.China)
	logf("filling the read model with %d cases…", n)
	t0 := time.Now()
	if err := fill(ctx, st, n, now); err != nil {
		return err
	}
	logf("  filled and aggregated in %s", time.Since(t0).Round(time.Second))

	thisYear := store.Filter{
		County: "330421", From: time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC),
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var getAs func(token, path string) func(ctx context.Context, _ int) error
	get := func(path string) func(ctx context.Context, _ int) error { return getAs("demo-bureau", path) }
	getAs = func(token, path string) func(ctx context.Context, _ int) error {
		return func(ctx context.Context, _ int) error {
			req, err := http.NewRequestWithContext(ctx, "GET", s.GatewayURL()+path, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != 200 {
				return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
			}
			return nil
		}
	}
	// The service's own queries, straight to PostgreSQL.
	rawReport := func(ctx context.Context, _ int) error {
		var b store.Batch
		ya := thisYear
		ya.From, ya.To = ya.From.AddDate(-1, 0, 0), ya.To.AddDate(-1, 0, 0)
		for _, f := range []store.Filter{thisYear, ya} {
			b.Breakdown(f, store.ByTotal, map[string]*store.Sums{})
			b.Breakdown(f, store.ByMonth, map[string]*store.Sums{})
		}
		b.Breakdown(thisYear, store.ByTownship, map[string]*store.Sums{})
		b.Breakdown(thisYear, store.ByDepartment, map[string]*store.Sums{})
		b.Breakdown(thisYear, store.ByChannel, map[string]*store.Sums{})
		b.Breakdown(thisYear, store.ByClass, map[string]*store.Sums{})
		var topics []store.Topic
		b.Topics(thisYear, 10, &topics)
		var overdue, atRisk int64
		today := calendar.DateOf(time.Now())
		b.CountDue(store.ClockFilter{County: "330421"}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), today.AddDate(0, 0, -1), &overdue)
		b.CountDue(store.ClockFilter{County: "330421"}, today, today.AddDate(0, 0, 5), &atRisk)
		var asOf time.Time
		b.AsOf(&asOf)
		return b.Send(ctx, st)
	}
	// A township's own report reads its rows of monthly_offices.
	rawOffice := func(ctx context.Context, _ int) error {
		var b store.Batch
		f := thisYear
		f.Office = "330421102"
		for _, dim := range []string{store.ByTotal, store.ByMonth, store.ByTownship, store.ByDepartment, store.ByChannel, store.ByClass} {
			b.Breakdown(f, dim, map[string]*store.Sums{})
		}
		var topics []store.Topic
		b.Topics(f, 10, &topics)
		var overdue int64
		b.CountDue(store.ClockFilter{County: "330421", Party: "330421102"}, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), calendar.DateOf(time.Now()), &overdue)
		return b.Send(ctx, st)
	}
	// What the aggregates replace: counting the cases themselves.
	naive := func(ctx context.Context, _ int) error {
		var c, p, a int64
		return pool.QueryRow(ctx, `SELECT count(*), sum(head_count), count(*) FILTER (WHERE answered) FROM cases
			WHERE county = '330421' AND month BETWEEN $1 AND $2`, thisYear.From, thisYear.To).Scan(&c, &p, &a)
	}
	rawOverdue := func(ctx context.Context, _ int) error {
		_, err := st.Clocks(ctx, store.ClockFilter{County: "330421", DueAfter: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), DueBefore: time.Now()}, store.ClockKey{}, 51)
		return err
	}

	type row struct {
		what, target string
		fn           func(context.Context, int) error
	}
	rows := []row{
		{"REST GET /v1/counties/-/report (county overview, this year, with 同比/环比, breakdowns, rankings)", "p99 ≤ 20 ms", get("/v1/counties/-/report")},
		{"raw SQL: the overview's pre-aggregated queries (one batch)", "", rawReport},
		{"REST GET /v1/counties/-/report as 大云镇 (the cases it may list: monthly_offices)", "p99 ≤ 20 ms", getAs("demo-dayun", "/v1/counties/-/report")},
		{"raw SQL: 大云镇's report queries (one batch)", "", rawOffice},
		{"raw SQL: naive count over the cases (what the aggregates replace)", "", naive},
		{"REST GET /v1/counties/-/deadlines?status=OVERDUE (page of 50)", "p99 ≤ 10 ms", get("/v1/counties/-/deadlines?status=DEADLINE_STATUS_OVERDUE&pageSize=50")},
		{"raw SQL: the overdue page's query", "", rawOverdue},
	}
	out := os.Stdout
	fmt.Fprintf(out, "\n#### Reporting, %d cases (%s, %d CPUs, %s)\n\n", n, time.Now().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Fprintln(out, "| measure | clients | req/s | p50 ms | p99 ms | target |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, r := range rows {
		for _, c := range []int{1, 4} {
			logf("%s, %d clients…", r.what, c)
			res := loadgen.Run(ctx, c, dur, r.fn)
			if res.Errors > 0 {
				return fmt.Errorf("%s: %d errors, e.g. %v", r.what, res.Errors, res.FirstError)
			}
			target := ""
			if c == 1 {
				target = r.target
			}
			fmt.Fprintf(out, "| %s | %d | %.0f | %.2f | %.2f | %s |\n", r.what, c, res.Rate, res.P50, res.P99, target)
		}
	}
	return nil
}

// fill writes n cases (and a running clock for one in fifty) straight into
// the read model, then builds the aggregates from them the way
// RecomputeAggregates always does.
func fill(ctx context.Context, st *store.Store, n int, now time.Time) error {
	const batch = 500_000
	for from := 1; from <= n; from += batch {
		to := min(from+batch-1, n)
		_, err := st.Pool.Exec(ctx, `INSERT INTO cases (case_number, county, township, month, receive_time, channel, class, topic,
			head_count, grp, repeat, last_seq, state, department, referred_up, answered, rating, reviewed, re_reviewed, routing, acceptance, handling, involved)
		SELECT 'B' || lpad(i::text, 10, '0'), '330421',
			(ARRAY['330421001','330421002','330421003','330421102','330421103','330421105','330421107','330421111','330421112'])[1 + (i * 7919) % 9],
			date_trunc('month', r)::date, r AT TIME ZONE 'Asia/Shanghai',
			1 + (i * 31) % 4, 1 + (i * 17) % 3,
			(ARRAY['城乡建设/物业管理','城乡建设/房屋征收','劳动社保/欠薪','劳动社保/社保待遇','国土资源/土地承包','农业农村/宅基地',
				'生态环境/噪声污染','市场监管/消费维权','教育/入学','卫生健康/医疗服务','民政/社会救助'])[1 + (i * 13) % 11],
			CASE WHEN i % 33 = 0 THEN 6 ELSE 1 END, i % 33 = 0, i % 17 = 0, 6,
			(ARRAY[13, 13, 13, 8, 3, 2, 7, 12])[1 + (i * 11) % 8],
			(ARRAY['330421.zjj','330421.rsj','330421.zrzyj','330421.nyncj','330421.sthj','330421.scjgj','330421.jyj','330421.wjj','330421.mzj','',''])[1 + (i * 3) % 11],
			i % 5 = 0, i % 10 < 8, ((i * 7) % 4)::smallint, i % 23 = 0, i % 97 = 0,
			(1 + (i % 13 = 0)::int)::smallint, (1 + (i % 29 = 0)::int)::smallint, (CASE WHEN i % 4 = 0 THEN 0 ELSE 1 + (i % 19 = 0)::int END)::smallint,
			-- the parties: registered by its township (one in six by the
			-- bureau), the bureau when referred up, its department
			array_remove(ARRAY[
				CASE WHEN i % 6 = 0 THEN '330421.xfj' ELSE (ARRAY['330421001','330421002','330421003','330421102','330421103','330421105','330421107','330421111','330421112'])[1 + (i * 7919) % 9] END,
				CASE WHEN i % 5 = 0 AND i % 6 <> 0 THEN '330421.xfj' END,
				nullif((ARRAY['330421.zjj','330421.rsj','330421.zrzyj','330421.nyncj','330421.sthj','330421.scjgj','330421.jyj','330421.wjj','330421.mzj','',''])[1 + (i * 3) % 11], '')], NULL)
		FROM generate_series($1::bigint, $2::bigint) i, LATERAL (SELECT $3::timestamp - make_interval(mins => ((i * 104729) % (730 * 24 * 60))::int) AS r) x`,
			from, to, now.Format("2006-01-02 15:04:05"))
		if err != nil {
			return fmt.Errorf("fill cases: %w", err)
		}
		logf("  %d cases…", to)
	}
	_, err := st.Pool.Exec(ctx, `INSERT INTO case_clocks (case_number, kind, county, township, office, duty, start_time, due_time,
			overdue, provisional, extension_days, rule)
		SELECT case_number, 4, county, township, coalesce(nullif(department, ''), '330421.xfj'), true,
			now() - interval '40 days', now() + make_interval(hours => (hashtext(case_number) % (60 * 24))), false, false, 0, '30日 (浙江省信访条例 第二十三条)'
		FROM cases WHERE right(case_number, 2) IN ('00', '50')`)
	if err != nil {
		return fmt.Errorf("fill clocks: %w", err)
	}
	if err := pgdb.InTx(ctx, st.Pool, func(tx pgx.Tx) error { return st.RecomputeAggregates(ctx, tx) }); err != nil {
		return err
	}
	_, err = st.Pool.Exec(ctx, `VACUUM ANALYZE`)
	return err
}
