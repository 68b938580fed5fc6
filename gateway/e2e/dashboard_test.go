package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/devkit/demodata"
	"github.com/tongban/tongban/services/devkit/stack"
)

// TestDashboard loads a generated year (the demo loader, through the real
// services) and has headless Chromium open the county dashboard: every
// headline figure on screen equals the API's, the rankings and lists have
// the API's rows, a case opens from the list, a township sees its own
// township only, and the exports download. Screenshots go to the test's
// artifact directory (make test keeps them under out/test-artifacts).
func TestDashboard(t *testing.T) {
	if _, err := os.Stat(stack.Chromium); err != nil {
		t.Fatalf("Chromium is needed at %s (make test installs it: apt-get install chromium): %v", stack.Chromium, err)
	}
	const clockKey = "the-dashboard-tests-demo-clock-key"
	s, _, dbURL := startStackEnv(t, democlock.Env+"="+clockKey, "TONGBAN_BOOTSTRAP_ADMIN=admin:dashboard-admin-password")
	c := &client{t: t, base: s.GatewayURL()}
	ctx := context.Background()

	const cases = 120
	res, err := demodata.Load(ctx, demodata.Options{Gateway: c.base, Cases: cases, Seed: 7, Workers: 4, ClockKey: clockKey})
	if err != nil || res.Failed != 0 {
		t.Fatalf("demo load: %v, %d failed: %v", err, res.Failed, res.Errors)
	}
	t.Logf("demo load: %d cases, %d calls", res.Cases, res.Calls)

	// The whole year, whatever today is.
	now := time.Now().In(calendar.China)
	start, end := now.AddDate(-1, 0, 0).Format("2006-01"), now.Format("2006-01")
	period := "startMonth=" + start + "&endMonth=" + end
	var report map[string]any
	c.eventually("reporting has read every case and its moves", func() string {
		r := c.do("GET", "/v1/counties/-/report?"+period, "demo-bureau", nil)
		if r.status != 200 {
			return r.raw
		}
		f, _ := r.body["figures"].(map[string]any)
		if f["cases"] != strconv.Itoa(cases) {
			return fmt.Sprintf("%v of %d cases", f["cases"], cases)
		}
		time.Sleep(time.Second) // the moves trail the registrations: wait until the figures stand still
		again := c.do("GET", "/v1/counties/-/report?"+period, "demo-bureau", nil)
		if again.raw != r.raw {
			return "still changing"
		}
		report = r.body
		return ""
	})
	// Under a loaded machine the feeds can trail by more than a second:
	// read the figures once every service's tables stand still.
	settled(t, dbURL)
	report = c.do("GET", "/v1/counties/-/report?"+period, "demo-bureau", nil).must(t, 200, "the settled report").body
	f := report["figures"].(map[string]any)
	if f["answered"] == "0" || f["closed"] == "0" || f["evaluated"] == "0" || len(report["townships"].([]any)) < 5 {
		t.Fatalf("the demo year is too thin to show: %v", f)
	}

	browser := newBrowser(t)
	shots := t.ArtifactDir()
	page := c.base + "/dashboard/?start=" + start + "&end=" + end
	const figuresJS = `Object.fromEntries([...document.querySelectorAll("[data-figure]")].map(e => [e.dataset.figure, e.querySelector(".value").textContent]))`
	b := &browserPage{t: t, ctx: browser, shots: shots}
	b.do(chromedp.Navigate(page+"#token=demo-bureau"), chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)))
	shown := run(b, chromedp.Evaluate[map[string]string](figuresJS))
	rows := run(b, chromedp.Evaluate[map[string]int](`Object.fromEntries(["townships","departments","overdue","at-risk","leaders"].map(id => [id, document.querySelectorAll("#"+id+" tbody tr").length]))`))
	b.shot("dashboard-county.png")
	t.Logf("on screen: %v; rows %v", shown, rows)

	// Each headline figure as the page must show it.
	count := func(v any) string { return groupDigits(fmt.Sprint(v)) }
	wanted := func(report map[string]any) map[string]string {
		f := report["figures"].(map[string]any)
		return map[string]string{
			"cases": count(f["cases"]), "persons": count(f["persons"]), "group_cases": count(f["groupCases"]),
			"referred_up": count(f["referredUp"]), "repeats": count(f["repeats"]),
			"reviews":     count(f["reviews"]) + " / " + count(f["reReviews"]),
			"overdue_now": count(report["overdueNow"]), "at_risk_now": count(report["atRiskNow"]),
		}
	}
	// The "now" figures move on their own (scheduling's reminder and
	// overdue jobs run on their clock): the page may show the report read
	// before it loaded or one read after.
	want, later := wanted(report), wanted(c.do("GET", "/v1/counties/-/report?"+period, "demo-bureau", nil).must(t, 200, "the report after the page").body)
	for k, v := range want {
		if shown[k] != v && shown[k] != later[k] {
			t.Errorf("%s: the page shows %q, the API says %q (then %q)", k, shown[k], v, later[k])
		}
	}
	for fig, field := range map[string]string{
		"timely_routing_rate": "timelyRoutingRate", "on_time_answer_rate": "onTimeAnswerRate", "closed_rate": "closedRate", "resolution_rate": "resolutionRate",
		"evaluation_rate": "evaluationRate", "satisfaction_rate": "satisfactionRate",
	} {
		api, ok := f[field].(float64)
		got, err := strconv.ParseFloat(strings.TrimSuffix(shown[fig], "%"), 64)
		if !ok || err != nil || math.Abs(got-api*100) > 0.05+1e-9 {
			t.Errorf("%s: the page shows %q, the API says %v", fig, shown[fig], f[field])
		}
	}
	for id, field := range map[string]string{"townships": "townships", "departments": "departments", "leaders": "leaders"} {
		list, _ := report[field].([]any)
		if rows[id] != len(list) {
			t.Errorf("%s: %d rows on the page, %d in the API", id, rows[id], len(list))
		}
	}
	for id, status := range map[string]string{"overdue": "DEADLINE_STATUS_OVERDUE", "at-risk": "DEADLINE_STATUS_AT_RISK"} {
		l := c.do("GET", "/v1/counties/-/deadlines?pageSize=20&status="+status, "demo-bureau", nil).must(t, 200, id)
		list, _ := l.body["deadlines"].([]any)
		if rows[id] != len(list) {
			t.Errorf("%s list: %d rows on the page, %d in the API", id, rows[id], len(list))
		}
	}

	// A case opens from a list in a dialog with its card and history.
	if rows["overdue"]+rows["at-risk"] > 0 {
		b.do(chromedp.Click(chromedp.CSS(`a.case`)), chromedp.WaitVisible(chromedp.CSS(`#case-body table tbody tr`)))
		if row := run(b, chromedp.Text(chromedp.CSS(`#case-body table tbody tr`))); row == "" {
			t.Errorf("the case dialog shows no history")
		}
		b.shot("dashboard-case.png")
	}

	// A township sees its own township only, and the page shows it so.
	b.do(chromedp.Navigate(page+"&t=xitang#token=demo-xitang"), chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)))
	township := run(b, chromedp.Evaluate[map[string]string](figuresJS))
	locked := run(b, chromedp.Evaluate[bool](`document.querySelector("#township").disabled`))
	b.shot("dashboard-xitang.png")
	own := c.do("GET", "/v1/counties/-/report?"+period, "demo-xitang", nil).must(t, 200, "西塘镇's report")
	if own.body["office"] != "offices/330421103" || township["cases"] != count(own.body["figures"].(map[string]any)["cases"]) || !locked {
		t.Errorf("西塘镇's dashboard shows %v (locked %v); its API report %v", township, locked, own.body["figures"])
	}
	c.do("GET", "/v1/counties/-/report?township=330421102", "demo-xitang", nil).must(t, 403, "another township's figures")

	// The monthly exports download with their names.
	for format, ctype := range map[string]string{"EXPORT_FORMAT_XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "EXPORT_FORMAT_CSV": "text/csv; charset=utf-8"} {
		req, _ := http.NewRequest("GET", c.base+"/v1/counties/330421/reports/"+end+":export?format="+format, nil)
		req.Header.Set("Authorization", "Bearer demo-bureau")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment; filename=\"") || !strings.Contains(resp.Header.Get("Content-Disposition"), "; filename*=UTF-8''") {
			t.Errorf("%s export: %d %q %q", format, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
	}
	// Signing in with an account at the page's sign-in box shows the county.
	b.do(chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#signin-form`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "admin"), chromedp.SendKeys(chromedp.CSS(`#password`), "dashboard-admin-password"),
		chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)))
	if got := run(b, chromedp.Evaluate[map[string]string](figuresJS)); got["cases"] != shown["cases"] {
		t.Errorf("signed in with an account, the page shows %v cases, want %v", got["cases"], shown["cases"])
	}

	// The read model rebuilt from the feeds' whole history gives the same
	// report as the live one just before (a job's event may have come
	// since the first read).
	settled(t, dbURL)
	report = c.do("GET", "/v1/counties/-/report?"+period, "demo-bureau", nil).must(t, 200, "the report before the rebuild").body
	if err := s.Kill("reporting"); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx, "reporting", "REPORTING_REBUILD=true"); err != nil {
		t.Fatal(err)
	}
	c.eventually("the rebuilt read model gives the same report", func() string {
		r := c.do("GET", "/v1/counties/-/report?"+period, "demo-bureau", nil)
		if r.status != 200 {
			return r.raw
		}
		if diff := cmp.Diff(report, r.body); diff != "" {
			return "differs (-before +rebuilt):\n" + diff
		}
		return ""
	})

	// The page's headers keep it same-origin.
	resp, err := http.Get(c.base + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || resp.StatusCode != 200 {
		t.Errorf("dashboard: %d, CSP %q", resp.StatusCode, csp)
	}
}

// newBrowser starts headless Chromium for one test, closed at its end.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(stack.Chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
		// This machine has no internet: keep Chromium from trying.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	tctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return tctx
}

// browserPage is a tab of the test's browser.
type browserPage struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func (b *browserPage) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func run[T any](b *browserPage, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// shot saves a screenshot of the whole page in the artifact directory.
func (b *browserPage) shot(name string) {
	b.t.Helper()
	png := run(b, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err := os.WriteFile(filepath.Join(b.shots, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// groupDigits formats an integer as zh-CN does: 12,345.
func groupDigits(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
