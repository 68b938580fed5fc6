// Package e2e drives the real binaries (four services and the gateway) on
// loopback ports over HTTP, the way a township system or a county office
// would, on a real PostgreSQL.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/tongban/tongban/gateway"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/devkit/stack"
	"github.com/tongban/tongban/services/platform/audit"
)

var (
	testDB *pgtest.Instance
	binDir string
	update = flag.Bool("update", false, "rewrite testdata/*.golden.json")
)

func TestMain(m *testing.M) {
	testDB = pgtest.MustStartEmpty()
	dir, err := os.MkdirTemp("", "tongban-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	root, err := stack.Root()
	if err == nil {
		err = stack.Build(context.Background(), root, binDir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	testDB.MustClose()
	os.Exit(code)
}

const (
	idNumber = "330421199001011248"
	phone    = "13812345678"
)

// client is a tiny REST client for the gateway.
type client struct {
	t    *testing.T
	base string
}

type reply struct {
	status int
	body   map[string]any
	raw    string
}

func (c *client) do(method, path, token string, body any, headers ...string) reply {
	c.t.Helper()
	req, err := c.request(method, path, token, body, headers...)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return readReply(resp)
}

// request builds a request to the gateway: body is nil, a string, or a
// value sent as JSON; headers are name, value pairs.
func (c *client) request(method, path, token string, body any, headers ...string) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req, nil
}

// readReply reads and closes a response.
func readReply(resp *http.Response) reply {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// eventually polls f until it returns "" (events cross services within a
// second or so) or fails with f's last complaint.
func (c *client) eventually(what string, f func() string) {
	c.t.Helper()
	c.eventuallyWithin(15*time.Second, what, f)
}

// eventuallyWithin is eventually with its own patience: after crashes the
// consumers back off (up to 5 s) and, with every test package sharing one
// PostgreSQL cluster under make test, feeds wait for other databases' long
// transactions too.
func (c *client) eventuallyWithin(patience time.Duration, what string, f func() string) {
	c.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r reply) str(keys ...string) string {
	var v any = r.body
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// petitioner returns a field of the first petitioner of a case body.
func (r reply) petitioner(key string) string {
	ps, _ := r.body["petitioners"].([]any)
	if len(ps) == 0 {
		return ""
	}
	v, _ := ps[0].(map[string]any)[key].(string)
	return v
}

// fields lists the fields named by BadRequest details of an error body.
func (r reply) fields() []string {
	var out []string
	details, _ := r.body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		fvs, _ := m["fieldViolations"].([]any)
		for _, fv := range fvs {
			out = append(out, fv.(map[string]any)["field"].(string))
		}
	}
	sort.Strings(out)
	return out
}

// reason is the ErrorInfo reason of an error body.
func (r reply) reason() string {
	details, _ := r.body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			s, _ := m["reason"].(string)
			return s
		}
	}
	return ""
}

func (r reply) must(t *testing.T, status int, what string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: HTTP %d, want %d: %s", what, r.status, status, r.raw)
	}
	return r
}

// goldens collects error bodies, pinned in testdata/errors.golden.json.
type goldens map[string]any

var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{6}-\d{4}-\d{6,9}`), "{case_number}"},
	{regexp.MustCompile(`\\"\d+(\.\d+)?\\"`), `\"{etag}\"`},
}

// record keeps r's body (HTTP status and normalised JSON) under name.
func (g goldens) record(t *testing.T, name string, r reply) {
	t.Helper()
	raw := r.raw
	for _, v := range volatile {
		raw = v.re.ReplaceAllString(raw, v.with)
	}
	var body any
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("%s: body is not JSON: %s", name, r.raw)
	}
	g[name] = map[string]any{"status": r.status, "body": body}
}

// check compares with the golden file, or rewrites it with -update.
func (g goldens) check(t *testing.T, path string) {
	t.Helper()
	got, err := json.MarshalIndent(map[string]any(g), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./gateway/e2e -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("error bodies differ from %s (run with -update after checking the change):\n%s", path, lineDiff(string(want), string(got)))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b))
		}
	}
	return strings.Join(out, "\n")
}

func startStack(t *testing.T) (*stack.Stack, string, string) {
	t.Helper()
	return startStackOn(t, testDB.NewEmptyDatabaseURL(t))
}

// startStackEnv starts the stack on a fresh database with extra settings
// ("NAME=value") for every process.
func startStackEnv(t *testing.T, env ...string) (*stack.Stack, string, string) {
	t.Helper()
	return startStackOn(t, testDB.NewEmptyDatabaseURL(t), env...)
}

// serviceCredential is the internal service credential of the tests'
// stacks (make run's is random, in .data/secrets.env).
const serviceCredential = "e2e-internal-service-credential"

// startStackOn starts the stack on the database at dbURL.
func startStackOn(t *testing.T, dbURL string, env ...string) (*stack.Stack, string, string) {
	t.Helper()
	ports, err := stack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	s, err := stack.Start(context.Background(), stack.Options{
		BinDir: binDir, DatabaseURL: dbURL, Ports: ports, LogDir: logDir, BlobDir: t.TempDir(),
		ExtraEnv: append(append(stack.NewSecrets(), "LOG_LEVEL=debug", "SCHEDULING_JOB_INTERVAL=200ms",
			"TONGBAN_DIRECTORY_REFRESH=250ms", "TONGBAN_SERVICE_TOKEN="+serviceCredential), env...),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			for _, name := range stack.Services {
				b, _ := os.ReadFile(filepath.Join(logDir, name+".log"))
				t.Logf("--- %s.log (tail)\n%s", name, tail(string(b), 3000))
			}
		}
	})
	return s, logDir, dbURL
}

// verifyAudit checks the audit chain of a service's schema.
func verifyAudit(t *testing.T, dbURL, schema string) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n, err := audit.Verify(context.Background(), pool); err != nil || n == 0 {
		t.Errorf("%s audit chain: %d entries, %v", schema, n, err)
	}
}

// scanDatabase reads every row of every Tongban table (bytea as hex) and
// reports the secrets it finds in clear.
func scanDatabase(t *testing.T, url string, secrets ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema IN ('intake', 'assignment', 'scheduling', 'reporting') AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("found only %d tables: %v", len(tables), tables)
	}
	for _, table := range tables {
		var dump string
		if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM `+table+` t`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(dump, s) || strings.Contains(dump, hex.EncodeToString([]byte(s))) {
				t.Errorf("table %s holds %q in clear", table, s)
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var caseNumber = regexp.MustCompile(`^330421-\d{4}-\d{6}$`)

// TestWalkingSkeleton registers a case at 大云镇, refers it up, has the
// bureau transfer it to 住建局, which answers; then reads state, holder and
// history through the gateway, with retries, refusals and bad input along
// the way.
func TestWalkingSkeleton(t *testing.T) {
	s, logDir, dbURL := startStack(t)
	c := &client{t: t, base: s.GatewayURL()}
	errs := goldens{}
	defer errs.check(t, "testdata/errors.golden.json")
	newCase := map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM",
		"subject": "小区雨污管网破损", "content": "东云村某小区雨污管道破损三个月未修复，雨天污水外溢。",
		"petitioners": []any{map[string]any{"displayName": "张三", "idNumber": idNumber, "phone": phone}},
	}

	// Registration, and its retry.
	first := c.do("POST", "/v1/cases", "demo-dayun", newCase, "Idempotency-Key", "dayun-2026-0001").must(t, 201, "register")
	num := first.str("caseNumber")
	if !caseNumber.MatchString(num) || first.str("name") != "cases/"+num {
		t.Fatalf("case number %q / name %q", num, first.str("name"))
	}
	retry := c.do("POST", "/v1/cases", "demo-dayun", newCase, "Idempotency-Key", "dayun-2026-0001")
	if retry.str("caseNumber") != num {
		t.Fatalf("retry registered %q, want %q: %s", retry.str("caseNumber"), num, retry.raw)
	}
	byField := c.do("POST", "/v1/cases?requestId=dayun-2026-0002", "demo-dayun", newCase).must(t, 201, "register with request_id")
	if again := c.do("POST", "/v1/cases?requestId=dayun-2026-0002", "demo-dayun", newCase); again.str("caseNumber") != byField.str("caseNumber") {
		t.Fatalf("request_id retry gave %s, want %s", again.str("caseNumber"), byField.str("caseNumber"))
	}

	// The registering office corrects the subject (PATCH; the mask comes
	// from the body), guarded by the etag; routing fields stay as registered.
	fixed := c.do("PATCH", "/v1/cases/"+num, "demo-dayun", map[string]any{"subject": "小区雨污管网破损（东云村）", "etag": first.str("etag")}).must(t, 200, "correct the subject")
	if fixed.str("subject") != "小区雨污管网破损（东云村）" || fixed.str("content") != newCase["content"] || fixed.str("etag") == first.str("etag") {
		t.Fatalf("after correction: %s", fixed.raw)
	}
	c.do("PATCH", "/v1/cases/"+num, "demo-dayun", map[string]any{"subject": "again", "etag": first.str("etag")}).must(t, 409, "stale etag")
	if r := c.do("PATCH", "/v1/cases/"+num, "demo-dayun", map[string]any{"township": "330421103"}).must(t, 400, "routing field"); !strings.Contains(r.raw, "update_mask") {
		t.Errorf("routing field correction: %s", r.raw)
	}
	if l := c.do("GET", "/v1/cases?township=330421102&subjectContains=%E7%AE%A1%E7%BD%91&orderBy=receive_time", "demo-dayun", nil).must(t, 200, "filtered list"); !strings.Contains(l.raw, num) {
		t.Errorf("filtered list lacks %s: %s", num, l.raw)
	}

	// A file comes with the petition: uploaded as JSON (base64), downloaded
	// as raw bytes with its media type.
	pdf := []byte("%PDF-1.4 来信扫描件")
	att := c.do("POST", "/v1/cases/"+num+"/attachments", "demo-dayun", map[string]any{
		"attachment": map[string]any{"filename": "来信.pdf", "mediaType": "application/pdf"},
		"content":    base64.StdEncoding.EncodeToString(pdf),
	}).must(t, 201, "attach a file")
	dl, err := http.NewRequest("GET", c.base+"/v1/"+att.str("name")+":download", nil)
	if err != nil {
		t.Fatal(err)
	}
	dl.Header.Set("Authorization", "Bearer demo-dayun")
	dlResp, err := http.DefaultClient.Do(dl)
	if err != nil {
		t.Fatal(err)
	}
	pdfBack, _ := io.ReadAll(dlResp.Body)
	dlResp.Body.Close()
	if dlResp.StatusCode != 200 || dlResp.Header.Get("Content-Type") != "application/pdf" || !bytes.Equal(pdfBack, pdf) {
		t.Fatalf("download: %d %s %q", dlResp.StatusCode, dlResp.Header.Get("Content-Type"), pdfBack)
	}
	// Saved, never shown, and never run, with its Chinese name (RFC 6266).
	for h, want := range map[string]string{
		"Content-Disposition":     `attachment; filename="file.pdf"; filename*=UTF-8''%E6%9D%A5%E4%BF%A1.pdf`,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": gateway.APIPolicy,
	} {
		if got := dlResp.Header.Get(h); got != want {
			t.Errorf("download's %s = %q, want %q", h, got, want)
		}
	}

	// Batches: newline-delimited JSON (one ImportCasesRequest a line) and
	// CSV, each row reported by its line.
	ndjson := `{"case":{"channel":"CHANNEL_REFERRAL","sourceSystem":"330421105-xfxt","externalId":"GY-1","township":"330421105","caseClass":"CASE_CLASS_CLAIM","subject":"道路破损","content":"村道破损。","anonymous":true}}
{"case":{"channel":"CHANNEL_REFERRAL","sourceSystem":"330421105-xfxt","externalId":"GY-2","township":"330421105","caseClass":"CASE_CLASS_CLAIM","subject":"","content":"x","anonymous":true}}
`
	imp := c.do("POST", "/v1/cases:import", "demo-ganyao", ndjson).must(t, 200, "NDJSON import")
	if imp.body["registered"] != float64(1) || imp.body["rejected"] != float64(1) {
		t.Fatalf("NDJSON import: %s", imp.raw)
	}
	csvFile := "channel,township,case_class,subject,content,anonymous,source_system,external_id\n" +
		"referral,330421105,suggestion,建议增设路灯,村口无路灯。,yes,330421105-xfxt,GY-3\n" +
		"referral,330421105,claim,道路破损,村道破损。,yes,330421105-xfxt,GY-1\n"
	csvImp := c.do("POST", "/v1/cases:importCsv", "demo-ganyao", csvFile).must(t, 200, "CSV import")
	if csvImp.body["registered"] != float64(1) || csvImp.body["existing"] != float64(1) {
		t.Fatalf("CSV import: %s", csvImp.raw)
	}
	c.do("POST", "/v1/cases:importCsv", "demo-ganyao", "colour\nred\n").must(t, 400, "CSV with an unknown column")
	c.do("POST", "/v1/cases:importCsv", "", csvFile).must(t, 401, "CSV import without a token")

	// The command-line importer: progress, summary, the rejected rows.
	file := filepath.Join(t.TempDir(), "batch.csv")
	if err := os.WriteFile(file, []byte("channel,township,case_class,subject,content,anonymous,external_id,source_system\n"+
		"referral,330421105,claim,桥梁护栏缺失,护栏缺失。,yes,GY-4,330421105-xfxt\n"+
		"referral,330421999,claim,,x,yes,GY-5,330421105-xfxt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := exec.Command(filepath.Join(binDir, "importcases"), "-addr", s.IntakeAddr(), "-token", "demo-ganyao", file)
	cliOut, err := cli.CombinedOutput()
	if err != nil || !strings.Contains(string(cliOut), "1 registered, 0 already registered, 1 rejected") ||
		!strings.Contains(string(cliOut), "row 2: case.township") {
		t.Fatalf("importcases: %v\n%s", err, cliOut)
	}

	// A township system re-sending its referral gets the first case.
	referral := map[string]any{
		"channel": "CHANNEL_REFERRAL", "sourceSystem": "330421103-xfxt", "externalId": "XT-2026-0042",
		"township": "330421103", "caseClass": "CASE_CLASS_SUGGESTION", "subject": "建议增设公交站", "content": "西塘镇某村建议增设公交站点。",
		"anonymous": true,
	}
	ref1 := c.do("POST", "/v1/cases", "demo-xitang", referral).must(t, 201, "referral")
	if ref2 := c.do("POST", "/v1/cases", "demo-xitang", referral); ref2.str("caseNumber") != ref1.str("caseNumber") || ref1.str("externalId") != "XT-2026-0042" {
		t.Fatalf("re-sent referral: %s then %s", ref1.raw, ref2.raw)
	}
	errs.record(t, "external_id_taken", c.do("POST", "/v1/cases", "demo-dayun", referral).must(t, 409, "another office re-using the external id"))

	// Bad input: every bad field at once; unknown fields; no token.
	bad := c.do("POST", "/v1/cases", "demo-dayun", map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421999", "caseClass": "CASE_CLASS_CLAIM", "subject": "", "content": "x",
		"petitioners": []any{map[string]any{"idNumber": "330421199001011247", "phone": "12345"}},
	}).must(t, 400, "invalid registration")
	errs.record(t, "invalid_registration", bad)
	if got, want := strings.Join(bad.fields(), ","), "case.petitioners[0].display_name,case.petitioners[0].id_number,case.petitioners[0].phone,case.subject,case.township"; got != want {
		t.Errorf("field violations = %s, want %s", got, want)
	}
	if strings.Contains(bad.raw, "SQL") || strings.Contains(bad.raw, "goroutine") {
		t.Errorf("error body leaks internals: %s", bad.raw)
	}
	errs.record(t, "unknown_json_field", c.do("POST", "/v1/cases", "demo-dayun", `{"subjet": "typo"}`).must(t, 400, "unknown JSON field"))
	errs.record(t, "no_token", c.do("GET", "/v1/cases/"+num, "", nil).must(t, 401, "no token"))
	c.do("GET", "/v1/cases/"+num, "not-a-token", nil).must(t, 401, "bad token")

	// The event reaches assignment: the case is in 大云镇's queue.
	c.eventually("case in the township queue", func() string {
		q := c.do("GET", "/v1/offices/330421102/queue", "demo-dayun", nil)
		if !strings.Contains(q.raw, num) {
			return "queue: " + q.raw
		}
		return ""
	})

	// Another township sees nothing and can do nothing.
	for _, r := range []reply{
		c.do("GET", "/v1/cases/"+num, "demo-xitang", nil),
		c.do("POST", "/v1/cases/"+num+":referUp", "demo-xitang", map[string]any{"reason": "x"}),
		c.do("GET", "/v1/cases/"+num+"/history", "demo-xitang", nil),
	} {
		r.must(t, 404, "another township")
	}
	errs.record(t, "missing_case", c.do("GET", "/v1/cases/330421-2026-999999", "demo-bureau", nil).must(t, 404, "missing case"))

	// Refer up, retried by the township system: one move.
	up := c.do("POST", "/v1/cases/"+num+":referUp", "demo-dayun", map[string]any{"reason": "涉及县住建部门职责，镇级无法协调", "requestId": "ref-1"}).must(t, 200, "refer up")
	if up.str("holderOffice") != "offices/330421.xfj" || up.str("state") != "CASE_STATE_REGISTERED" {
		t.Fatalf("after referral: %s", up.raw)
	}
	upAgain := c.do("POST", "/v1/cases/"+num+":referUp", "demo-dayun", map[string]any{"reason": "涉及县住建部门职责，镇级无法协调", "requestId": "ref-1"}).must(t, 200, "refer up retry")
	if upAgain.str("etag") != up.str("etag") {
		t.Fatalf("retry etag %s, want %s", upAgain.str("etag"), up.str("etag"))
	}
	c.do("POST", "/v1/cases/"+num+":referUp", "demo-dayun", map[string]any{"reason": "涉及县住建部门职责，镇级无法协调", "requestId": "ref-1", "etag": "\"9\""}).
		must(t, 400, "same request id, different request")

	errs.record(t, "not_holder", c.do("POST", "/v1/cases/"+num+":referUp", "demo-dayun", map[string]any{"reason": "again"}).must(t, 403, "refer up what the bureau holds"))

	// The bureau transfers to 住建局 (a stale etag first), which answers.
	stale := c.do("POST", "/v1/cases/"+num+":transfer", "demo-bureau", map[string]any{"toOffice": "offices/330421.zjj", "reason": "属住建局职责", "etag": "\"1\""}).must(t, 409, "stale etag")
	errs.record(t, "stale_etag", stale)
	if stale.reason() != "ETAG_MISMATCH" {
		t.Errorf("stale etag reason %q", stale.reason())
	}
	tr := c.do("POST", "/v1/cases/"+num+":transfer", "demo-bureau", map[string]any{"toOffice": "offices/330421.zjj", "reason": "属住建局职责", "etag": up.str("etag")}).must(t, 200, "transfer")
	if tr.str("state") != "CASE_STATE_TRANSFERRED" || tr.str("holderOffice") != "offices/330421.xfj" || tr.str("pendingOffice") != "offices/330421.zjj" || tr.str("sendBackDue") == "" {
		t.Fatalf("after transfer (the bureau stays responsible until 住建局 signs for it): %s", tr.raw)
	}
	// 住建局 reads the case it is asked to take (intake learned of the
	// transfer from assignment's feed), signs for it and accepts it.
	c.eventually("the receiving department can read the case", func() string {
		if r := c.do("GET", "/v1/cases/"+num, "demo-zjj", nil); r.status != 200 {
			return r.raw
		}
		return ""
	})
	c.do("POST", "/v1/cases/"+num+":signFor", "demo-zjj", map[string]any{}).must(t, 200, "sign for")
	c.do("POST", "/v1/cases/"+num+":accept", "demo-zjj", map[string]any{"notice": "已受理，将于法定期限内答复。"}).must(t, 200, "accept")
	ans := c.do("POST", "/v1/cases/"+num+":answer", "demo-zjj", map[string]any{"outcome": "ANSWER_OUTCOME_SUPPORT", "text": "已安排维修，30日内完成。"}, "Idempotency-Key", "ans-1").must(t, 200, "answer")
	if ans.str("state") != "CASE_STATE_ANSWERED" || ans.str("answer", "office") != "offices/330421.zjj" {
		t.Fatalf("after answer: %s", ans.raw)
	}
	conflict := c.do("POST", "/v1/cases/"+num+":answer", "demo-zjj", map[string]any{"outcome": "ANSWER_OUTCOME_REJECT", "text": "again"}).must(t, 400, "second answer")
	errs.record(t, "wrong_state", conflict)
	if conflict.reason() != "CASE_STATE_CONFLICT" || conflict.body["code"] != float64(9) {
		t.Errorf("second answer: %s", conflict.raw)
	}

	// GET on the case: state, owner and the full history, as the township sees it.
	var got reply
	c.eventually("the case shows its answer and history", func() string {
		got = c.do("GET", "/v1/cases/"+num, "demo-dayun", nil)
		if got.str("state") != "CASE_STATE_ANSWERED" {
			return got.raw
		}
		if h, _ := got.body["history"].([]any); len(h) != 6 {
			return got.raw
		}
		return ""
	})
	if got.str("holderOffice") != "offices/330421.zjj" || got.petitioner("idNumber") != idNumber {
		t.Errorf("case: %s", got.raw)
	}
	var moves []string
	for _, h := range got.body["history"].([]any) {
		e := h.(map[string]any)
		moves = append(moves, fmt.Sprintf("%s by %s → %s", e["action"], e["actorOffice"], e["toOffice"]))
		if e["time"] == "" {
			t.Errorf("history entry without time: %v", e)
		}
	}
	wantMoves := []string{
		"ACTION_REGISTER by offices/330421102 → offices/330421102",
		"ACTION_REFER_UP by offices/330421102 → offices/330421.xfj",
		"ACTION_TRANSFER by offices/330421.xfj → offices/330421.xfj",
		"ACTION_SIGN_FOR by offices/330421.zjj → offices/330421.zjj",
		"ACTION_ACCEPT by offices/330421.zjj → offices/330421.zjj",
		"ACTION_ANSWER by offices/330421.zjj → offices/330421.zjj",
	}
	if strings.Join(moves, "\n") != strings.Join(wantMoves, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(moves, "\n"), strings.Join(wantMoves, "\n"))
	}
	// The department sees the case with identity masked.
	zjj := c.do("GET", "/v1/cases/"+num, "demo-zjj", nil).must(t, 200, "department reads the case")
	if zjj.petitioner("idNumber") != "3304**********1248" || zjj.petitioner("phone") != "138****5678" {
		t.Errorf("department sees petitioners %v", zjj.body["petitioners"])
	}

	// Reporting and scheduling answer through the same gateway.
	c.eventually("the summary counts the case", func() string {
		sum := c.do("GET", "/v1/counties/330421/summary", "demo-bureau", nil)
		if sum.str("answered") != "1" || sum.str("registered") != "6" || sum.str("referredUp") != "1" {
			return sum.raw
		}
		return ""
	})
	own := c.do("GET", "/v1/counties/330421/summary", "demo-xitang", nil).must(t, 200, "township summary")
	if own.str("registered") != "1" || strings.Contains(own.raw, "330421102") {
		t.Errorf("西塘镇 sees another township's figures: %s", own.raw)
	}
	day := c.do("GET", "/v1/calendar/days/2026-10-07", "demo-bureau", nil).must(t, 200, "calendar")
	if day.body["workingDay"] != false || day.str("kind") != "DAY_KIND_HOLIDAY" {
		t.Errorf("2026-10-07: %s", day.raw)
	}
	c.do("GET", "/openapi/tongban.swagger.json", "", nil).must(t, 200, "openapi")
	c.do("GET", "/readyz", "", nil).must(t, 200, "gateway readiness")

	// Reflection works on a service (grpcurl uses it).
	checkReflection(t, s)

	// The audit log: the registration, the correction and the reads that
	// showed identity are recorded with who, the request id and from where;
	// only the bureau may list it; the chain verifies.
	al := c.do("GET", "/v1/auditEntries?pageSize=100&case=cases/"+num, "demo-bureau", nil).must(t, 200, "audit entries")
	seen := map[string]map[string]any{}
	entries, _ := al.body["auditEntries"].([]any)
	for _, e := range entries {
		m := e.(map[string]any)
		if _, ok := seen[m["action"].(string)]; !ok {
			seen[m["action"].(string)] = m
		}
	}
	if r := seen["case.register"]; r == nil || r["requestId"] != "dayun-2026-0001" || r["office"] != "offices/330421102" || r["peer"] == "" {
		t.Errorf("registration audit entry: %v", r)
	}
	if r := seen["case.correct"]; r == nil || !strings.Contains(fmt.Sprint(r["detail"]), "subject") {
		t.Errorf("correction audit entry: %v", r)
	}
	if r := seen["identity.read"]; r == nil || r["office"] != "offices/330421102" {
		t.Errorf("identity read audit entry: %v (all: %s)", r, al.raw)
	}
	if strings.Contains(al.raw, idNumber) || strings.Contains(al.raw, phone) {
		t.Errorf("the audit log shows identity: %s", al.raw)
	}
	c.do("GET", "/v1/auditEntries", "demo-dayun", nil).must(t, 403, "the audit log for a township")
	verifyAudit(t, dbURL, "intake")
	verifyAudit(t, dbURL, "assignment") // the moves
	moveLog := c.do("GET", "/v1/services/assignment/auditEntries?case=cases/"+num, "demo-bureau", nil).must(t, 200, "assignment's audit log")
	if !strings.Contains(moveLog.raw, `"case.move"`) || !strings.Contains(moveLog.raw, "ACTION_REFER_UP") {
		t.Errorf("assignment's audit log lacks the moves: %s", moveLog.raw)
	}

	// No metric names the petitioner either.
	for _, name := range []string{"intake", "assignment", "scheduling", "reporting"} {
		resp, err := http.Get(s.SideURL(name) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, secret := range []string{idNumber, phone, "张三"} {
			if resp.StatusCode != 200 || bytes.Contains(body, []byte(secret)) {
				t.Errorf("%s metrics (%d) contain %q", name, resp.StatusCode, secret)
			}
		}
	}

	// Every process stops gracefully on SIGTERM.
	for i := len(stack.Services) - 1; i >= 0; i-- {
		if err := s.Kill(stack.Services[i]); err != nil {
			t.Errorf("%s: %v", stack.Services[i], err)
		}
	}
	// Nothing at rest (tables, outboxes, idempotency records) and nothing
	// in any log names the petitioner.
	scanDatabase(t, dbURL, idNumber, phone, "张三")
	for _, name := range stack.Services {
		b, err := os.ReadFile(filepath.Join(logDir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`"level"`)) {
			t.Errorf("%s.log has no JSON log lines", name)
		}
		if name != "gateway" && !bytes.Contains(b, []byte(`"caller.office"`)) {
			t.Errorf("%s.log never names the calling office", name)
		}
		for _, secret := range []string{idNumber, phone, "张三"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s.log contains %q", name, secret)
			}
		}
	}
}

func checkReflection(t *testing.T, s *stack.Stack) {
	t.Helper()
	conn, err := grpc.NewClient(s.IntakeAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		services = append(services, svc.GetName())
	}
	joined := strings.Join(services, " ")
	for _, want := range []string{"tongban.intake.v1.IntakeService", "tongban.events.v1.EventFeedService", "grpc.health.v1.Health"} {
		if !strings.Contains(joined, want) {
			t.Errorf("reflection lists %v, missing %s", services, want)
		}
	}
}

// TestHardRoute drives the hard case of the assignment issue over REST: a
// township registers and refers up; the bureau transfers to 住建局, which
// sends it back; the bureau takes it back and transfers to 自然资源局, which
// signs for it, accepts, extends and answers; the petitioner is not
// satisfied, asks for review (the county) and re-review (the prefecture):
// 三级终结. A repeat of it is linked by intake and refused by assignment.
// The case's history as intake shows it came over assignment's event feed.
func TestHardRoute(t *testing.T) {
	s, _, _ := startStack(t)
	c := &client{t: t, base: s.GatewayURL()}
	petition := map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM", "topic": "国土资源/土地征收",
		"subject": "征地补偿标准争议", "content": "大云镇某村土地征收补偿标准低于公布标准，请求按标准补足。",
		"petitioners": []any{map[string]any{"displayName": "李四", "idNumber": "330421198502020017", "phone": "13900001111"}},
	}
	num := c.do("POST", "/v1/cases", "demo-dayun", petition).must(t, 201, "register").str("caseNumber")
	path := "/v1/cases/" + num
	type move struct {
		token, verb string
		body        map[string]any
		state       string
		holder      string
	}
	run := func(moves []move) {
		t.Helper()
		for _, m := range moves {
			if m.body == nil {
				m.body = map[string]any{}
			}
			r := c.do("POST", path+":"+m.verb, m.token, m.body)
			if r.status != 200 || r.str("state") != m.state || r.str("holderOffice") != m.holder {
				t.Fatalf("%s :%s: HTTP %d, want %s held by %s: %s", m.token, m.verb, r.status, m.state, m.holder, r.raw)
			}
		}
	}
	c.eventually("assignment has the case", func() string {
		if q := c.do("GET", "/v1/offices/330421102/queue", "demo-dayun", nil); !strings.Contains(q.raw, num) {
			return q.raw
		}
		return ""
	})
	run([]move{
		{"demo-dayun", "referUp", map[string]any{"reason": "涉及县级部门职责"}, "CASE_STATE_REGISTERED", "offices/330421.xfj"},
		{"demo-bureau", "takeLead", map[string]any{"leader": "张某", "leaderTitle": "副县长", "unit": "offices/330421.zrzyj", "person": "王某",
			"dueDate": time.Now().AddDate(0, 2, 0).Format(time.DateOnly)}, "CASE_STATE_REGISTERED", "offices/330421.xfj"},
		{"demo-bureau", "setUrgency", map[string]any{"urgent": true, "reason": "涉及多户"}, "CASE_STATE_REGISTERED", "offices/330421.xfj"},
		{"demo-bureau", "transfer", map[string]any{"toOffice": "offices/330421.zjj", "reason": "涉及安置房"}, "CASE_STATE_TRANSFERRED", "offices/330421.xfj"},
		{"demo-zjj", "sendBack", map[string]any{"reason": "征地补偿属自然资源部门职责"}, "CASE_STATE_RETURN_REQUESTED", "offices/330421.xfj"},
		{"demo-bureau", "acceptReturn", nil, "CASE_STATE_REGISTERED", "offices/330421.xfj"},
		{"demo-bureau", "transfer", map[string]any{"toOffice": "offices/330421.zrzyj", "reason": "属自然资源局职责"}, "CASE_STATE_TRANSFERRED", "offices/330421.xfj"},
		{"demo-zrzyj", "signFor", nil, "CASE_STATE_ROUTED", "offices/330421.zrzyj"},
		{"demo-zrzyj", "accept", nil, "CASE_STATE_IN_HANDLING", "offices/330421.zrzyj"},
		{"demo-zrzyj", "recordProgress", map[string]any{"steps": "现场核实", "progress": "已调取补偿台账", "measures": "约谈村委"}, "CASE_STATE_IN_HANDLING", "offices/330421.zrzyj"},
		{"demo-zrzyj", "extend", map[string]any{"days": 30, "reason": "需重新测量", "approvedBy": "局长 王某"}, "CASE_STATE_IN_HANDLING", "offices/330421.zrzyj"},
		{"demo-zrzyj", "answer", map[string]any{"outcome": "ANSWER_OUTCOME_REJECT", "text": "经核实，补偿已按公布标准发放。", "legalBasis": "《土地管理法》第四十八条"}, "CASE_STATE_ANSWERED", "offices/330421.zrzyj"},
		{"demo-dayun", "evaluate", map[string]any{"rating": "RATING_UNSATISFIED"}, "CASE_STATE_EVALUATED", "offices/330421.zrzyj"},
		{"demo-dayun", "requestReview", map[string]any{"reason": "不服答复"}, "CASE_STATE_REVIEW_REQUESTED", "offices/330421.xfj"},
		{"demo-bureau", "review", map[string]any{"outcome": "ANSWER_OUTCOME_REJECT", "text": "维持原答复意见。"}, "CASE_STATE_REVIEWED", "offices/330421.xfj"},
		{"demo-dayun", "requestReReview", map[string]any{"reason": "不服复查意见"}, "CASE_STATE_RE_REVIEW_REQUESTED", "offices/330400.xfj"},
		{"demo-jiaxing", "reReview", map[string]any{"outcome": "ANSWER_OUTCOME_REJECT", "text": "维持复查意见。"}, "CASE_STATE_FINAL", "offices/330400.xfj"},
	})
	// Refusals over HTTP: status and reason.
	for _, r := range []struct {
		token, verb string
		body        map[string]any
		status      int
		reason      string
	}{
		{"demo-dayun", "requestReview", map[string]any{"reason": "again"}, 400, "CASE_FINAL"},
		{"demo-jiaxing", "close", map[string]any{"etag": `"1"`}, 409, "ETAG_MISMATCH"},
		{"demo-xitang", "evaluate", map[string]any{"rating": "RATING_SATISFIED"}, 404, "CASE_NOT_FOUND"},
		{"demo-bureau", "decline", map[string]any{"notice": "x"}, 400, "INVALID_ARGUMENT"},
	} {
		if r.body == nil {
			r.body = map[string]any{}
		}
		got := c.do("POST", path+":"+r.verb, r.token, r.body)
		if got.status != r.status || got.reason() != r.reason {
			t.Errorf("%s :%s: HTTP %d %s, want %d %s: %s", r.token, r.verb, got.status, got.reason(), r.status, r.reason, got.raw)
		}
	}
	// The history as intake projects it from assignment's events.
	want := []string{"REGISTER", "REFER_UP", "TAKE_LEAD", "SET_URGENCY", "TRANSFER", "SEND_BACK", "ACCEPT_RETURN", "TRANSFER", "SIGN_FOR", "ACCEPT", "RECORD_PROGRESS", "EXTEND",
		"ANSWER", "EVALUATE", "REQUEST_REVIEW", "REVIEW", "REQUEST_RE_REVIEW", "RE_REVIEW"}
	c.eventually("intake shows the whole history", func() string {
		got := c.do("GET", path, "demo-dayun", nil)
		h, _ := got.body["history"].([]any)
		var actions []string
		for _, e := range h {
			actions = append(actions, strings.TrimPrefix(e.(map[string]any)["action"].(string), "ACTION_"))
		}
		if strings.Join(actions, " ") != strings.Join(want, " ") || got.str("state") != "CASE_STATE_FINAL" {
			return got.str("state") + ": " + strings.Join(actions, " ")
		}
		return ""
	})
	// The case card (一案一卡) joins the subject (intake's) to the lead and its progress.
	card := c.do("GET", path+"/card", "demo-zrzyj", nil).must(t, 200, "case card")
	if card.str("subject") != petition["subject"] || card.str("lead", "unit") != "offices/330421.zrzyj" || !strings.Contains(card.raw, "已调取补偿台账") {
		t.Errorf("card: %s", card.raw)
	}
	// The prefecture, now involved, may read the case; the department that
	// sent it back may too (it saw it), but 西塘镇 never.
	c.do("GET", path, "demo-jiaxing", nil).must(t, 200, "the prefecture reads the case")
	c.do("GET", path, "demo-xitang", nil).must(t, 404, "another township")

	// The same petitioner comes again on the same matter: intake links the
	// repeat (三级终结 shown); no guess declines it: the clerk does, citing
	// 第三十六条第三款.
	again := c.do("POST", "/v1/cases", "demo-dayun", petition).must(t, 201, "register the repeat")
	rep := again.str("caseNumber")
	if again.str("repeatOf") != "cases/"+num || again.body["repeatOfFinal"] != true {
		t.Fatalf("repeat: %s", again.raw)
	}
	registeredFor := func(number string) func() string {
		return func() string {
			h := c.do("GET", "/v1/cases/"+number+"/history", "demo-dayun", nil)
			if h.str("case", "state") != "CASE_STATE_REGISTERED" || !strings.Contains(h.raw, "ACTION_DECLINE") || !strings.Contains(h.raw, "ACTION_ACCEPT") {
				return h.raw
			}
			return ""
		}
	}
	c.eventually("the repeat waits on the clerk's decision", registeredFor(rep))
	finally := map[string]any{"channel": "STATUTORY_CHANNEL_FINALLY_CLOSED",
		"notice": "本事项已经复核终结，以同一事实和理由提出的，不再受理（信访工作条例 第三十六条第三款）。"}
	if d := c.do("POST", "/v1/cases/"+rep+":decline", "demo-dayun", finally).must(t, 200, "the clerk declines the repeat"); d.str("state") != "CASE_STATE_DECLINED" ||
		d.str("decline", "finalCase") != "cases/"+num {
		t.Errorf("declined repeat: %s", d.raw)
	}

	// The township's system follows its cases on the event feed: every
	// move of both, in order, and nothing of other townships'.
	wantFeed := append(append([]string{}, want...), "REGISTER", "DECLINE")
	c.eventually("大云镇's feed", func() string {
		var actions []string
		cursor := ""
		for range 20 {
			page := c.do("GET", "/v1/events?pageSize=5&afterCursor="+url.QueryEscape(cursor), "demo-dayun", nil).must(t, 200, "events")
			evs, _ := page.body["events"].([]any)
			for _, e := range evs {
				ev := e.(map[string]any)
				if n := ev["caseNumber"]; n != num && n != rep {
					t.Fatalf("大云镇's feed shows case %v", n)
				}
				mv, _ := ev["caseMoved"].(map[string]any)
				entry, _ := mv["entry"].(map[string]any)
				actions = append(actions, strings.TrimPrefix(fmt.Sprint(entry["action"]), "ACTION_"))
			}
			if len(evs) == 0 {
				break
			}
			cursor = page.str("nextCursor")
		}
		if strings.Join(actions, " ") != strings.Join(wantFeed, " ") {
			return strings.Join(actions, " ")
		}
		return ""
	})
	if other := c.do("GET", "/v1/events", "demo-xitang", nil).must(t, 200, "西塘镇's events"); strings.Contains(other.raw, num) {
		t.Errorf("西塘镇's feed shows 大云镇's case: %s", other.raw)
	}
	// The same feed as a stream (newline-delimited JSON): the replay arrives.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/events:watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer demo-dayun")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for i := range wantFeed {
		if !lines.Scan() {
			t.Fatalf("watch ended after %d lines: %v", i, lines.Err())
		}
		var msg struct {
			Result struct {
				Event struct {
					CaseNumber string `json:"caseNumber"`
				} `json:"event"`
			} `json:"result"`
		}
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil || (msg.Result.Event.CaseNumber != num && msg.Result.Event.CaseNumber != rep) {
			t.Fatalf("watch line %d: %s (%v)", i, lines.Text(), err)
		}
	}
	resp.Body.Close()

	// A different matter of the same petitioner, its topic left blank: the
	// similarity rule may take it for a repeat of the final case, but
	// nothing is decided by that. A clerk who declines it in error is
	// corrected by the bureau in one move, and the case is decided again.
	other := map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM",
		"subject": "村道排水沟堵塞", "content": "村口排水沟堵塞，雨天积水严重，请求疏通。",
		"petitioners": []any{map[string]any{"displayName": "李四", "idNumber": "330421198502020017", "phone": "13900001111"}},
	}
	diff := c.do("POST", "/v1/cases", "demo-dayun", other).must(t, 201, "a different matter")
	third := diff.str("caseNumber")
	if diff.str("repeatOf") != "cases/"+num || diff.body["repeatOfFinal"] != true {
		t.Fatalf("the blank topic was not taken for the final matter, so this proves nothing: %s", diff.raw)
	}
	c.eventually("the different matter waits on the clerk", registeredFor(third))
	c.do("POST", "/v1/cases/"+third+":unlinkRepeat", "demo-dayun", map[string]any{}).must(t, 200, "the clerk unlinks the guess")
	c.eventually("assignment knows it repeats nothing", func() string {
		if h := c.do("GET", "/v1/cases/"+third+"/history", "demo-dayun", nil); h.str("case", "repeatOf") != "" {
			return h.raw
		}
		return ""
	})
	c.do("POST", "/v1/cases/"+third+":decline", "demo-dayun", finally).must(t, 400, "三级终结 for a case that repeats none")
	c.do("POST", "/v1/cases/"+third+":decline", "demo-dayun", map[string]any{"channel": "STATUTORY_CHANNEL_LITIGATION", "notice": "请向人民法院起诉。"}).must(t, 200, "declined in error")
	c.do("POST", "/v1/cases/"+third+":reopen", "demo-dayun", map[string]any{"reason": "x"}).must(t, 403, "a township reopens")
	re := c.do("POST", "/v1/cases/"+third+":reopen", "demo-bureau", map[string]any{"reason": "属行政管理事项，应予受理"}).must(t, 200, "the bureau reopens")
	if re.str("state") != "CASE_STATE_REGISTERED" || re.str("holderOffice") != "offices/330421102" || !strings.Contains(re.raw, "correctedDeclines") {
		t.Errorf("reopened: %s", re.raw)
	}
	c.do("POST", "/v1/cases/"+third+":accept", "demo-dayun", map[string]any{}).must(t, 200, "accepted after the correction")
	c.eventually("the routing clock restarted at the correction, then stopped", func() string {
		h := c.do("GET", "/v1/cases/"+third+"/history", "demo-bureau", nil)
		if !strings.Contains(h.raw, "ACTION_REOPEN") || !strings.Contains(h.raw, "纠正不予受理：属行政管理事项，应予受理") {
			return h.raw
		}
		return ""
	})
}

// TestClocks drives scheduling's clocks through assignment's events over
// the real services: a letter received on the Friday before the 2026
// National Day holiday gets its routing deadline right (Zhejiang: 5 working
// days, over the holiday), is long overdue and raises 督办 exactly once;
// acceptance starts the 30-day handling clock, an extension moves it, and
// acting resolves the 督办. The case shows its deadlines as assignment
// keeps them from scheduling's feed.
func TestClocks(t *testing.T) {
	s, _, _ := startStack(t)
	c := &client{t: t, base: s.GatewayURL()}
	letter := map[string]any{
		"channel": "CHANNEL_LETTER", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM", "anonymous": true,
		"receiveTime": "2026-09-25T02:00:00Z", "subject": "农村道路维修", "content": "来信反映村道损坏，请求维修。",
	}
	num := c.do("POST", "/v1/cases", "demo-dayun", letter).must(t, 201, "register").str("caseNumber")
	path := "/v1/cases/" + num
	deadline := func(token, kind string) map[string]any {
		r := c.do("GET", path+"/deadlines", token, nil)
		ds, _ := r.body["deadlines"].([]any)
		for _, d := range ds {
			if m := d.(map[string]any); m["kind"] == kind {
				return m
			}
		}
		return nil
	}
	c.eventually("the routing clock", func() string {
		d := deadline("demo-dayun", "CLOCK_KIND_ROUTING")
		if d == nil || !strings.HasPrefix(fmt.Sprint(d["dueTime"]), "2026-10-09T15:59:59") || d["office"] != "offices/330421102" ||
			!strings.Contains(fmt.Sprint(d["rule"]), "浙江省信访条例") {
			return fmt.Sprint(d)
		}
		return ""
	})
	supervisions := func(query string) int {
		r := c.do("GET", "/v1/supervisions"+query, "demo-bureau", nil).must(t, 200, "supervisions")
		n := 0
		ss, _ := r.body["supervisions"].([]any)
		for _, x := range ss {
			if m := x.(map[string]any); m["case"] == "cases/"+num && m["kind"] == "CLOCK_KIND_ROUTING" {
				n++
			}
		}
		return n
	}
	c.eventually("督办 for the missed routing deadline", func() string {
		if n := supervisions(""); n != 1 {
			return fmt.Sprint(n, " supervisions")
		}
		return ""
	})
	time.Sleep(time.Second) // five more runs of the jobs
	if n := supervisions("?showResolved=true"); n != 1 {
		t.Errorf("%d supervisions after more runs, want 1", n)
	}
	c.eventually("the case shows the overdue clock", func() string {
		h := c.do("GET", path+"/history", "demo-dayun", nil)
		if !strings.Contains(h.raw, `"overdue":true`) || !strings.Contains(h.raw, "CLOCK_KIND_ROUTING") {
			return h.raw
		}
		return ""
	})
	// 大云镇 handles it itself: the routing clock stops, handling starts.
	acc := c.do("POST", path+":accept", "demo-dayun", map[string]any{}).must(t, 200, "accept")
	accepted, err := time.Parse(time.RFC3339Nano, acc.str("acceptTime"))
	if err != nil {
		t.Fatal(err)
	}
	cal := calendar.Official()
	wantDue := func(days int) string {
		d, _ := cal.AddDays(accepted, days, true)
		return d.Format(time.DateOnly) + "T15:59:59"
	}
	c.eventually("the handling clock", func() string {
		d := deadline("demo-dayun", "CLOCK_KIND_HANDLING")
		if d == nil || !strings.HasPrefix(fmt.Sprint(d["dueTime"]), wantDue(30)) {
			return fmt.Sprint(d, " want ", wantDue(30))
		}
		return ""
	})
	if n := supervisions(""); n != 0 {
		t.Errorf("the 督办 stays open after the township acted: %d", n)
	}
	c.do("POST", path+":extend", "demo-dayun", map[string]any{"days": 30, "reason": "需协调交通部门", "approvedBy": "镇长 陈某"}).must(t, 200, "extend")
	c.eventually("the extension moves the answer deadline", func() string {
		d := deadline("demo-dayun", "CLOCK_KIND_HANDLING")
		if d == nil || !strings.HasPrefix(fmt.Sprint(d["dueTime"]), wantDue(60)) || d["extensionDays"] != float64(30) {
			return fmt.Sprint(d, " want ", wantDue(60))
		}
		return ""
	})
	c.do("GET", path+"/deadlines", "demo-xitang", nil).must(t, 404, "another township's deadlines")
	checkMetrics(t, s)
	own := c.do("GET", "/v1/offices/330421102/deadlines", "demo-dayun", nil).must(t, 200, "office deadlines")
	if !strings.Contains(own.raw, num) {
		t.Errorf("大云镇's deadlines lack the case: %s", own.raw)
	}
}

// checkMetrics scrapes each service's /metrics (side port) after a run and
// checks the figures operators watch: RPCs by method and code, feeds
// applied and their lag, the outbox, scheduling's jobs and open 督办.
func checkMetrics(t *testing.T, s *stack.Stack) {
	t.Helper()
	scrape := func(name string) string {
		resp, err := http.Get(s.SideURL(name) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s /metrics: %d", name, resp.StatusCode)
		}
		return string(b)
	}
	want := map[string][]string{
		"intake": {`tongban_rpc_requests_total{code="OK",method="/tongban.intake.v1.IntakeService/CreateCase",service="intake"}`,
			`tongban_feed_events_total{feed="assignment",service="intake"}`, `tongban_outbox_events{service="intake"}`},
		"assignment": {`tongban_rpc_requests_total{code="OK",method="/tongban.assignment.v1.AssignmentService/AcceptCase",service="assignment"}`,
			`tongban_feed_events_total{feed="intake",service="assignment"}`, `tongban_feed_events_total{feed="scheduling",service="assignment"}`,
			`tongban_feed_lag_seconds{feed="scheduling",service="assignment"}`, `tongban_rpc_duration_seconds_bucket{method="/tongban.assignment.v1.AssignmentService/AcceptCase"`},
		"scheduling": {`tongban_jobs_due{kind="supervision",service="scheduling"}`, `tongban_supervisions_open{service="scheduling"} 0`,
			`tongban_rpc_requests_total{code="NotFound",method="/tongban.scheduling.v1.SchedulingService/ListCaseDeadlines",service="scheduling"}`},
		"reporting": {`tongban_feed_events_total{feed="assignment",service="reporting"}`, "\ngo_goroutines ", "\nprocess_resident_memory_bytes "},
	}
	for name, lines := range want {
		body := scrape(name)
		for _, l := range lines {
			if !strings.Contains(body, l) {
				t.Errorf("%s /metrics lacks %s", name, l)
			}
		}
		for _, secret := range []string{"idNumber", "phone"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s /metrics mentions %s", name, secret)
			}
		}
	}
}
