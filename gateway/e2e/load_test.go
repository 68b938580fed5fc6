package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/devkit/stack"
)

// TestLoad is `make loadtest`'s mixed workload (skipped otherwise): townships
// register cases and refer them up, the bureau transfers them, departments
// sign for, accept and answer them, and dashboards and case pages are read,
// all at once through the gateway for TONGBAN_LOAD_SECONDS (default 60). It
// reports throughput and p50/p99 per operation, and appends the table to
// TONGBAN_LOAD_OUT when set.
func TestLoad(t *testing.T) {
	if os.Getenv("TONGBAN_LOADTEST") == "" {
		t.Skip("make loadtest runs it")
	}
	seconds := 60
	if v, err := strconv.Atoi(os.Getenv("TONGBAN_LOAD_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	s, _, dbURL := startStack(t)
	c := &client{t: t, base: s.GatewayURL()}
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	failed := map[string]int{}
	// op makes one call; a 404 is reported to the caller (the case may
	// not have reached assignment from intake's feed yet), anything else
	// other than want counts as a failure.
	op := func(name, method, path, token string, body any, want int, key string) reply {
		start := time.Now()
		r, err := c.try(httpc, method, path, token, body, "Idempotency-Key", key)
		d := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil && r.status == want:
			lat[name] = append(lat[name], d)
			return r
		case err == nil && r.status == 404:
			return r
		}
		failed[name]++
		return reply{}
	}
	until := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	townships := map[string]string{"demo-dayun": "330421102", "demo-xitang": "330421103", "demo-ganyao": "330421105", "demo-yaozhuang": "330421111"}
	depts := []string{"zjj", "rsj", "zrzyj", "scjgj"}
	w := 0
	for token, code := range townships {
		dept := depts[w]
		w++
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(until); i++ {
				key := fmt.Sprintf("load-%s-%d", code, i)
				reg := op("register", "POST", "/v1/cases", token, map[string]any{
					"channel": "CHANNEL_WEB", "township": code, "caseClass": "CASE_CLASS_CLAIM", "anonymous": true,
					"subject": "压力测试 " + key, "content": strings.Repeat("来信反映的情况，", 40),
				}, 201, key)
				num := reg.str("caseNumber")
				if num == "" {
					continue
				}
				path := "/v1/cases/" + num
				// The case reaches assignment through intake's feed: until it
				// has, the referral answers 404 and is tried again.
				for range 100 {
					if r := op("referUp", "POST", path+":referUp", token, map[string]any{"reason": "需县级协调"}, 200, key+"-up"); r.status != 404 {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				op("transfer", "POST", path+":transfer", "demo-bureau", map[string]any{"toOffice": "offices/330421." + dept, "reason": "属其职责"}, 200, key+"-tr")
				op("signFor", "POST", path+":signFor", "demo-"+dept, map[string]any{}, 200, key+"-sf")
				op("accept", "POST", path+":accept", "demo-"+dept, map[string]any{}, 200, key+"-ac")
				op("answer", "POST", path+":answer", "demo-"+dept, map[string]any{"outcome": "ANSWER_OUTCOME_SUPPORT", "text": "已处理。"}, 200, key+"-an")
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) {
				op("summary", "GET", "/v1/counties/330421/summary", "demo-bureau", nil, 200, "")
				op("list", "GET", "/v1/cases?pageSize=50", "demo-bureau", nil, 200, "")
				op("queue", "GET", "/v1/offices/330421.xfj/queue", "demo-bureau", nil, 200, "")
			}
		}()
	}
	wg.Wait()
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Mixed workload (`make loadtest`), %s, %d s, 4 townships + 2 dashboard readers\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), seconds)
	b.WriteString("| operation | done | failed | rate /s | p50 ms | p99 ms |\n|---|---|---|---|---|---|\n")
	names := make([]string, 0, len(lat))
	for n := range lat {
		names = append(names, n)
	}
	sort.Strings(names)
	total := 0
	for _, n := range names {
		ds := lat[n]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		total += len(ds)
		pct := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %.2f | %.2f |\n", n, len(ds), failed[n], float64(len(ds))/float64(seconds), pct(0.5), pct(0.99))
	}
	b.WriteString(updatesLine(t, dbURL))
	t.Log(b.String())
	if out := os.Getenv("TONGBAN_LOAD_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString(b.String()) //nolint:errcheck
	}
	if len(lat["register"]) == 0 || len(lat["answer"]) == 0 || len(lat["summary"]) == 0 {
		t.Errorf("the workload did not run: %v", b.String())
	}
	for name, n := range failed {
		if n > 0 {
			t.Errorf("%d %s calls failed without any fault injected", n, name)
		}
	}
}

// updatesLine says how many rows of each service's cases table the
// workload updated and what share of the updates were heap-only (HOT: no
// index touched), from PostgreSQL's cumulative statistics.
func updatesLine(t *testing.T, dbURL string) string {
	t.Helper()
	time.Sleep(stack.StatsDelay)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	updates, err := stack.TableUpdates(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(updates)) {
		if u := updates[name]; strings.HasSuffix(name, ".cases") && u.All > 0 {
			parts = append(parts, fmt.Sprintf("%s %d (%.0f %% heap-only)", name, u.All, 100*float64(u.HOT)/float64(u.All)))
		}
	}
	return "\nRows updated: " + strings.Join(parts, ", ") + ".\n"
}
