package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/devkit/pgcluster"
	"github.com/tongban/tongban/services/devkit/stack"
)

// TestFaults runs a workload (townships registering cases and referring
// them up, retrying every call with its idempotency key until it is
// acknowledged, as a township system does) while intake, assignment,
// scheduling, reporting and the gateway are each killed with SIGKILL and
// restarted, and PostgreSQL is crashed and restarted. Afterwards every
// acknowledged case exists exactly once in every service, each with exactly
// one registration and one referral, every event reached its consumers, and
// every overdue deadline raised its 督办 exactly once.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack and kills it repeatedly")
	}
	// A cluster of its own, durable, so the test can crash and restart it.
	dir, err := os.MkdirTemp("", "tongban-fault-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg, err := pgcluster.Start(context.Background(), filepath.Join(dir, "data"), pgcluster.Options{Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() }) //nolint:errcheck
	if err := stack.EnsureDatabase(context.Background(), pg, "tongban"); err != nil {
		t.Fatal(err)
	}
	s, _, dbURL := startStackOn(t, pg.URL("tongban"))
	c := &client{t: t, base: s.GatewayURL()}
	httpc := &http.Client{Timeout: 5 * time.Second}

	// call retries one logical request until it is acknowledged with want.
	call := func(ctx context.Context, method, path, token string, body map[string]any, key string, want int) (reply, error) {
		for {
			r, err := c.try(httpc, method, path, token, body, "Idempotency-Key", key)
			if err == nil && r.status == want {
				return r, nil
			}
			if err == nil && r.status < 500 && r.status != 404 {
				return r, fmt.Errorf("%s %s: HTTP %d: %s", method, path, r.status, r.raw)
			}
			// Down, restarting, or (404) assignment has not taken the case
			// from intake's feed yet: try again, as a township system would.
			select {
			case <-ctx.Done():
				return r, fmt.Errorf("%s %s: not acknowledged before the deadline (last: %v %d)", method, path, err, r.status)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	townships := []string{"demo-dayun", "demo-xitang", "demo-ganyao", "demo-yaozhuang"}
	codes := map[string]string{"demo-dayun": "330421102", "demo-xitang": "330421103", "demo-ganyao": "330421105", "demo-yaozhuang": "330421111"}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// make loadtest runs a longer fault run (TONGBAN_FAULT_SECONDS).
	workFor := 14 * time.Second
	if v, err := strconv.Atoi(os.Getenv("TONGBAN_FAULT_SECONDS")); err == nil && v > 0 {
		workFor = time.Duration(v) * time.Second
		ctx, cancel = context.WithTimeout(context.Background(), workFor+2*time.Minute)
		defer cancel()
	}
	workUntil := time.Now().Add(workFor)

	var mu sync.Mutex
	acked := map[string]string{} // idempotency key → case number
	late := map[string]string{}  // letters received long ago, left at the township: their 督办 must fire once
	var wg sync.WaitGroup
	errs := make(chan error, len(townships))
	for w, token := range townships {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(workUntil); i++ {
				key := fmt.Sprintf("fault-%d-%d", w, i)
				if i%4 == 3 {
					// A letter received on 25 September: its routing deadline
					// (9 October) is long past, so scheduling's job must raise
					// 督办 for it, once, whatever crashes meanwhile.
					reg, err := call(ctx, "POST", "/v1/cases", token, map[string]any{
						"channel": "CHANNEL_LETTER", "township": codes[token], "caseClass": "CASE_CLASS_CLAIM", "anonymous": true,
						"receiveTime": "2026-09-25T02:00:00Z", "subject": "故障演练（逾期） " + key, "content": "来信反映道路积水。",
					}, key, 201)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					late[key] = reg.str("caseNumber")
					mu.Unlock()
					continue
				}
				reg, err := call(ctx, "POST", "/v1/cases", token, map[string]any{
					"channel": "CHANNEL_PHONE", "township": codes[token], "caseClass": "CASE_CLASS_CLAIM", "anonymous": true,
					"subject": "故障演练 " + key, "content": "电话反映道路积水，请求处理。",
				}, key, 201)
				if err != nil {
					errs <- err
					return
				}
				num := reg.str("caseNumber")
				if _, err := call(ctx, "POST", "/v1/cases/"+num+":referUp", token, map[string]any{"reason": "需县级协调"}, key+"-up", 200); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				acked[key] = num
				mu.Unlock()
			}
		}()
	}
	// The faults, one after another, while the workload runs: each service
	// and the gateway killed and restarted, and PostgreSQL crashed
	// (immediate stop: recovery from the WAL) and restarted on its port.
	faults := []string{"intake", "assignment", "postgres", "gateway", "scheduling", "reporting", "intake"}
	gap := workFor / time.Duration(len(faults)+1)
	for _, name := range faults {
		time.Sleep(gap)
		if name == "postgres" {
			if err := pg.Crash(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			if pg, err = pgcluster.Start(ctx, pg.Dir, pgcluster.Options{Port: pg.Port, Durable: true}); err != nil {
				t.Fatalf("restart PostgreSQL: %v", err)
			}
			continue
		}
		if err := s.Crash(name); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if err := s.Restart(ctx, name); err != nil {
			t.Fatalf("restart %s: %v", name, err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(acked) < 20 {
		t.Fatalf("only %d cases acknowledged: the workload did not run", len(acked))
	}
	t.Logf("%d cases registered and referred up and %d overdue letters registered in %v through %d crashes", len(acked), len(late), workFor, len(faults))

	// Every acknowledged case, exactly once, everywhere; every move once.
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	numbers := make([]string, 0, len(acked))
	for _, n := range acked {
		numbers = append(numbers, n)
	}
	count := func(q string) int {
		var n int
		if err := conn.QueryRow(ctx, q, numbers).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	distinct := map[string]bool{}
	for _, n := range numbers {
		distinct[n] = true
	}
	if len(distinct) != len(acked) {
		t.Errorf("%d keys acknowledged %d distinct cases: a retry created a second case", len(acked), len(distinct))
	}
	if n := count(`SELECT count(*) FROM intake.cases WHERE subject LIKE '故障演练 %' AND $1::text[] IS NOT NULL`); n != len(acked) {
		t.Errorf("intake holds %d cases, %d were acknowledged", n, len(acked))
	}
	lateNumbers := make([]string, 0, len(late))
	for _, n := range late {
		lateNumbers = append(lateNumbers, n)
	}
	if len(late) < 5 {
		t.Fatalf("only %d overdue letters", len(late))
	}
	c.eventuallyWithin(time.Minute, "督办 raised once for every overdue letter", func() string {
		var raised, distinct, events int
		err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT case_number) FROM scheduling.supervisions WHERE case_number = ANY ($1) AND kind = 1`,
			lateNumbers).Scan(&raised, &distinct)
		if err == nil {
			err = conn.QueryRow(ctx, `SELECT count(*) FROM assignment.deadlines WHERE case_number = ANY ($1) AND kind = 1 AND deadline->>'overdue' = 'true'`,
				lateNumbers).Scan(&events)
		}
		if err != nil || raised != len(late) || distinct != len(late) || events != len(late) {
			return fmt.Sprintf("%d supervisions for %d cases, %d overdue deadlines shown, of %d letters (%v)", raised, distinct, events, len(late), err)
		}
		return ""
	})
	c.eventuallyWithin(time.Minute, "every event reached its consumers", func() string {
		checks := map[string]string{
			"assignment cases referred up once":     `SELECT count(*) FROM assignment.cases c WHERE c.case_number = ANY ($1) AND c.holder_office = '330421.xfj' AND (SELECT count(*) FROM assignment.case_history h WHERE h.case_number = c.case_number AND h.action = 2) = 1`,
			"assignment histories of two moves":     `SELECT count(*) FROM (SELECT case_number FROM assignment.case_history WHERE case_number = ANY ($1) GROUP BY case_number HAVING count(*) = 2) x`,
			"intake projections at the bureau":      `SELECT count(*) FROM intake.cases WHERE case_number = ANY ($1) AND holder_office = '330421.xfj' AND history_seq = 2`,
			"intake history entries":                `SELECT count(*) / 2 FROM intake.case_history WHERE case_number = ANY ($1)`,
			"reporting facts":                       `SELECT count(*) FROM reporting.cases WHERE case_number = ANY ($1) AND referred_up AND month IS NOT NULL`,
			"scheduling routing clocks (restarted)": `SELECT count(*) FROM scheduling.clocks WHERE case_number = ANY ($1) AND kind = 1 AND office = '330421.xfj'`,
			"assignment deadlines from scheduling":  `SELECT count(DISTINCT case_number) FROM assignment.deadlines WHERE case_number = ANY ($1)`,
		}
		var bad []string
		for what, q := range checks {
			if n := count(q); n != len(acked) {
				bad = append(bad, fmt.Sprintf("%s: %d of %d", what, n, len(acked)))
			}
		}
		if len(bad) > 0 {
			bad = append(bad, routingEvidence(ctx, conn, numbers))
		}
		return strings.Join(bad, "; ")
	})
	// Through every crash, the reporting aggregates stayed exactly the sums
	// of the cases' contributions: nothing applied twice, nothing lost.
	c.eventuallyWithin(time.Minute, "reporting aggregates equal the cases' contributions", func() string {
		agg := count(`SELECT coalesce(sum(cases) * 1000000 + sum(referred_up) * 1000 + sum(routing_on_time + routing_late), 0)::bigint FROM reporting.monthly_figures WHERE cardinality($1::text[]) >= 0`)
		cases := count(`SELECT coalesce(sum(cases) * 1000000 + sum(referred_up) * 1000 + sum(routing_on_time + routing_late), 0)::bigint FROM reporting.case_contributions WHERE cardinality($1::text[]) >= 0`)
		if agg != cases || agg == 0 {
			return fmt.Sprintf("aggregates %d, contributions %d", agg, cases)
		}
		return ""
	})
}

// try is do without failing the test on a network error: the stack may be
// down on purpose.
func (c *client) try(h *http.Client, method, path, token string, body any, headers ...string) (reply, error) {
	req, err := c.request(method, path, token, body, headers...)
	if err != nil {
		return reply{}, err
	}
	resp, err := h.Do(req)
	if err != nil {
		return reply{}, err
	}
	return readReply(resp), nil
}

// routingEvidence describes the first case without its bureau routing clock
// in scheduling: its clocks, assignment's history and events of it, and
// whether scheduling recorded those events as processed.
func routingEvidence(ctx context.Context, conn *pgx.Conn, numbers []string) string {
	var n string
	err := conn.QueryRow(ctx, `SELECT x FROM unnest($1::text[]) x WHERE NOT EXISTS (SELECT 1 FROM scheduling.clocks c
		WHERE c.case_number = x AND c.kind = 1 AND c.office = '330421.xfj') LIMIT 1`, numbers).Scan(&n)
	if err != nil {
		return "no case misses its bureau routing clock"
	}
	out := []string{"case " + n}
	for _, q := range []string{
		`SELECT format('clock kind %s office %s start %s stop %s', kind, office, start_time, stop_time) FROM scheduling.clocks WHERE case_number = $1`,
		`SELECT format('history seq %s action %s time %s', sequence, action, time) FROM assignment.case_history WHERE case_number = $1 ORDER BY sequence`,
		`SELECT format('event txid %s pos %s %s id %s processed by scheduling: %s', o.txid, o.position, o.kind, o.event_id,
			EXISTS (SELECT 1 FROM scheduling.processed_events p WHERE p.event_id = o.event_id)) FROM assignment.outbox o WHERE o.case_number = $1 ORDER BY o.txid, o.position`,
	} {
		rows, err := conn.Query(ctx, q, n)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			out = append(out, err.Error())
		}
		out = append(out, lines...)
	}
	var cursor string
	if err := conn.QueryRow(ctx, `SELECT cursor FROM scheduling.feed_cursors WHERE feed = 'assignment'`).Scan(&cursor); err != nil {
		cursor = err.Error()
	}
	return strings.Join(append(out, "scheduling's cursor on assignment's feed "+cursor), " | ")
}
