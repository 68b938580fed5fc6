package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/devkit/democlock"
)

// snapshot is a count and checksum of every row of every Tongban table.
func snapshot(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema IN ('intake', 'assignment', 'scheduling', 'reporting') AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, table := range tables {
		var n int64
		var sum string
		if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM `+table+` t`).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		out[table] = fmt.Sprintf("%d rows %s", n, sum)
	}
	return out
}

// settled waits until the database stops changing (the feeds and jobs
// have caught up) and returns its snapshot.
func settled(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	prev := snapshot(t, dbURL)
	deadline := time.Now().Add(20 * time.Second)
	for {
		time.Sleep(700 * time.Millisecond)
		cur := snapshot(t, dbURL)
		same := len(cur) == len(prev)
		for k, v := range cur {
			same = same && prev[k] == v
		}
		if same {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatal("the database did not settle")
		}
		prev = cur
	}
}

// upload is an attachment's JSON body.
func upload(filename, declared string, content []byte) map[string]any {
	return map[string]any{
		"attachment": map[string]any{"filename": filename, "mediaType": declared},
		"content":    base64.StdEncoding.EncodeToString(content),
	}
}

// TestHostileInput sends the gateway what an attacker or a broken client
// would: malformed and oversized bodies, wrong types, invalid UTF-8,
// SQL-injection and path-traversal strings in identifiers and filters,
// forged and other offices' tokens, a request id replayed with another
// body. Each gets a 4xx with a readable message and no internals, and the
// database is unchanged afterwards (every table's count and checksum).
func TestHostileInput(t *testing.T) {
	s, _, dbURL := startStack(t)
	c := &client{t: t, base: s.GatewayURL()}
	newCase := map[string]any{
		"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM",
		"subject": "小区雨污管网破损", "content": "东云村某小区雨污管道破损。",
		"petitioners": []any{map[string]any{"displayName": "张三", "idNumber": idNumber, "phone": phone}},
	}
	num := c.do("POST", "/v1/cases?requestId=hostile-1", "demo-dayun", newCase).must(t, 201, "seed").str("caseNumber")
	// Wait for the seed's events to go all the way round (intake → assignment
	// → intake's projection and scheduling → assignment's deadlines): a
	// consumer that started before its producer may still be backing off.
	c.eventually("the seed went round every feed", func() string {
		if g := c.do("GET", "/v1/cases/"+num, "demo-dayun", nil); !strings.Contains(g.raw, "ACTION_REGISTER") {
			return "intake: " + g.raw
		}
		if h := c.do("GET", "/v1/cases/"+num+"/history", "demo-dayun", nil); !strings.Contains(h.raw, "CLOCK_KIND_ROUTING") {
			return "assignment: " + h.raw
		}
		return ""
	})
	c.do("POST", "/v1/cases?requestId=hostile-2", "demo-dayun", map[string]any{"channel": "CHANNEL_VISIT", "township": "330421102",
		"caseClass": "CASE_CLASS_SUGGESTION", "subject": "建议增设路灯", "content": "村口无路灯。", "anonymous": true}).must(t, 201, "a second case")
	pageToken := c.do("GET", "/v1/cases?pageSize=1", "demo-dayun", nil).must(t, 200, "a first page").str("nextPageToken")
	if pageToken == "" {
		t.Fatal("no next page token")
	}
	flip := map[byte]string{'A': "B"}[pageToken[5]]
	if flip == "" {
		flip = "A"
	}
	changedToken := pageToken[:5] + flip + pageToken[6:]
	before := settled(t, dbURL)

	sqli := "'; DROP TABLE intake.cases; --"
	esc := url.PathEscape
	other := map[string]any{"channel": "CHANNEL_VISIT", "township": "330421102", "caseClass": "CASE_CLASS_CLAIM", "subject": "另一事项", "content": "不同的内容。", "anonymous": true}
	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
	}{
		{"malformed JSON", "POST", "/v1/cases", "demo-dayun", `{"channel": "CHANNEL_VISIT", `, 400},
		{"not an object", "POST", "/v1/cases", "demo-dayun", `[1, 2, 3]`, 400},
		{"wrong type", "POST", "/v1/cases", "demo-dayun", `{"headCount": "many"}`, 400},
		{"unknown enum", "POST", "/v1/cases", "demo-dayun", `{"channel": "CHANNEL_PIGEON"}`, 400},
		{"unknown field", "POST", "/v1/cases", "demo-dayun", `{"subjet": "typo"}`, 400},
		{"invalid UTF-8", "POST", "/v1/cases", "demo-dayun", "{\"subject\": \"\xff\xfe\", \"content\": \"x\"}", 400},
		{"oversized body", "POST", "/v1/cases", "demo-dayun", `{"content": "` + strings.Repeat("长", 7<<20) + `"}`, 413},
		{"SQL in a township code", "POST", "/v1/cases", "demo-dayun", map[string]any{"channel": "CHANNEL_VISIT", "township": sqli, "caseClass": "CASE_CLASS_CLAIM", "subject": sqli, "content": sqli, "anonymous": true}, 400},
		{"SQL in a case name", "GET", "/v1/cases/" + esc(sqli), "demo-dayun", nil, 400},
		{"SQL in a filter", "GET", "/v1/cases?township=" + url.QueryEscape(sqli), "demo-bureau", nil, 400},
		{"SQL in the order", "GET", "/v1/cases?orderBy=" + url.QueryEscape("receive_time; DELETE FROM intake.cases"), "demo-bureau", nil, 400},
		{"SQL in a page token", "GET", "/v1/cases?pageToken=" + url.QueryEscape(sqli), "demo-bureau", nil, 400},
		{"SQL in a text filter is only text", "GET", "/v1/cases?subjectContains=" + url.QueryEscape(sqli), "demo-bureau", nil, 200},
		{"SQL in an office", "POST", "/v1/cases/" + num + ":transfer", "demo-bureau", map[string]any{"toOffice": "offices/" + sqli, "reason": sqli}, 400},
		{"SQL in a repeat lookup", "POST", "/v1/cases:findRepeats", "demo-dayun", map[string]any{"idNumber": sqli, "phone": sqli}, 400},
		{"the internal service credential at the edge", "GET", "/v1/cases", serviceCredential, nil, 401},
		{"a repeat lookup with the internal service credential", "POST", "/v1/cases:findRepeats", serviceCredential, map[string]any{"idNumber": idNumber}, 401},
		{"SQL in an office id", "GET", "/v1/offices/" + esc(sqli), "demo-bureau", nil, 404},
		{"SQL in a new office", "POST", "/v1/offices?officeId=" + url.QueryEscape(sqli), "demo-bureau", map[string]any{"displayName": sqli, "kind": "OFFICE_KIND_DEPARTMENT"}, 403},
		{"unknown field in an office", "PATCH", "/v1/offices/330421.zjj", "demo-bureau", `{"displayName": "x", "kindd": 1}`, 400},
		{"SQL in a cursor", "GET", "/v1/events?afterCursor=" + url.QueryEscape(sqli), "demo-bureau", nil, 400},
		// A path that leaves its route matches none: 404, never a file.
		{"path traversal in a case", "GET", "/v1/cases/" + esc("../../etc/passwd"), "demo-dayun", nil, 404},
		{"path traversal in an attachment", "GET", "/v1/cases/" + num + "/attachments/" + esc("../../../secrets.env") + ":download", "demo-dayun", nil, 404},
		{"path traversal in a date", "GET", "/v1/calendar/days/" + esc("../../2026-10-01"), "demo-dayun", nil, 404},
		{"path traversal in one segment", "GET", "/v1/cases/" + esc("..%2F..%2Fsecrets"), "demo-dayun", nil, 400},
		{"no token", "GET", "/v1/cases/" + num, "", nil, 401},
		{"forged token", "GET", "/v1/cases/" + num, "demo-bureau' OR '1'='1", nil, 401},
		{"another township's token", "POST", "/v1/cases/" + num + ":referUp", "demo-xitang", map[string]any{"reason": "x"}, 404},
		{"a department acting on a case it never held", "POST", "/v1/cases/" + num + ":answer", "demo-zjj", map[string]any{"outcome": "ANSWER_OUTCOME_SUPPORT", "text": "x"}, 404},
		{"request id replayed with another body", "POST", "/v1/cases?requestId=hostile-1", "demo-dayun", other, 400},
		{"a page token with one character changed", "GET", "/v1/cases?pageSize=1&pageToken=" + changedToken, "demo-dayun", nil, 400},
		{"negative page size", "GET", "/v1/cases?pageSize=-5", "demo-bureau", nil, 400},
		{"a huge page size is capped", "GET", "/v1/cases?pageSize=100000000", "demo-bureau", nil, 200},
		{"an HTML page as an attachment", "POST", "/v1/cases/" + num + "/attachments?requestId=hostile-html", "demo-dayun", upload("说明.html", "text/html", []byte("<!DOCTYPE html><script>fetch('/v1/cases')</script>")), 400},
		{"an executable named .pdf", "POST", "/v1/cases/" + num + "/attachments?requestId=hostile-exe", "demo-dayun", upload("来信扫描.pdf", "application/pdf", append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), make([]byte, 128)...)), 400},
	}
	// What the message must say, where a generic one would not help.
	says := map[string]string{
		"an HTML page as an attachment":              "HTML (text/html), which may not be attached",
		"an executable named .pdf":                   "EXE (application/vnd.microsoft.portable-executable), which may not be attached",
		"If-Match disagreeing with the body's etag":  `is \"1\" but the If-Match header says \"7\"`,
		"Idempotency-Key disagreeing with requestId": `is \"hostile-3\" but the Idempotency-Key header is \"hostile-4\"`,
		"a page token with one character changed":    "is not a token from a previous call of this list",
	}
	headersOf := map[string][]string{}
	// Headers a caller at the edge must not be able to use: metadata only
	// Tongban's processes send, and the demo clock.
	withHeaders := []struct {
		name, method, path, token string
		body                      any
		status                    int
		headers                   []string
	}{
		{"the service credential as gRPC metadata", "GET", "/v1/cases", "", nil, 401, []string{"Grpc-Metadata-X-Tongban-Service", serviceCredential}},
		{"the service header itself", "GET", "/v1/cases", "", nil, 401, []string{"X-Tongban-Service", serviceCredential}},
		{"a guessed service header beside an office token", "GET", "/v1/cases", "demo-dayun", nil, 401, []string{"X-Tongban-Service", "guess"}},
		{"an office backdating with the demo clock", "POST", "/v1/cases?requestId=hostile-demo-clock", "demo-dayun", newCase, 403, []string{democlock.Header, "2019-05-01T09:00:00+08:00"}},
		{"If-Match disagreeing with the body's etag", "PATCH", "/v1/cases/" + num, "demo-dayun", map[string]any{"subject": "改", "etag": "1"}, 400, []string{"If-Match", `"7"`}},
		{"a stale If-Match", "PATCH", "/v1/cases/" + num, "demo-dayun", map[string]any{"subject": "改"}, 409, []string{"If-Match", `"99"`}},
		{"Idempotency-Key disagreeing with requestId", "POST", "/v1/cases?requestId=hostile-3", "demo-dayun", other, 400, []string{"Idempotency-Key", "hostile-4"}},
		{"an office guessing the demo clock's key", "POST", "/v1/cases?requestId=hostile-demo-key", "demo-dayun", newCase, 403, []string{democlock.Header, "2019-05-01T09:00:00+08:00", democlock.KeyHeader, "guess"}},
	}
	for _, tc := range withHeaders {
		tests = append(tests, struct {
			name, method, path, token string
			body                      any
			status                    int
		}{tc.name, tc.method, tc.path, tc.token, tc.body, tc.status})
		headersOf[tc.name] = tc.headers
	}
	for _, tc := range tests {
		r := c.do(tc.method, tc.path, tc.token, tc.body, headersOf[tc.name]...)
		if r.status != tc.status {
			t.Errorf("%s: HTTP %d, want %d: %.300s", tc.name, r.status, tc.status, r.raw)
			continue
		}
		if tc.status >= 400 && tc.status != 413 {
			if msg, _ := r.body["message"].(string); msg == "" || !strings.Contains(r.raw, says[tc.name]) {
				t.Errorf("%s: no readable message (want %q): %.300s", tc.name, says[tc.name], r.raw)
			}
		}
		for _, leak := range []string{"goroutine", "pgx", "SQLSTATE", "syntax error at", ".go:"} {
			if strings.Contains(r.raw, leak) {
				t.Errorf("%s: the answer leaks %q: %.300s", tc.name, leak, r.raw)
			}
		}
	}
	after := settled(t, dbURL)
	for table, b := range before {
		if after[table] != b {
			t.Errorf("%s changed: %s → %s", table, b, after[table])
		}
	}
}
