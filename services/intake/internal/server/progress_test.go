package server

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// TestCaseProgress: a petitioner's lookup by case number and query code
// (no caller) shows the state, the holder and the steps, nothing of the
// registration; a wrong code answers like a missing case; five wrong codes
// lock the case's lookup.
func TestCaseProgress(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	created, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetCase()
	ctx := context.Background() // no caller: the method is public
	moves := []*assignmentv1.HistoryEntry{
		{Sequence: 1, Action: assignmentv1.Action_ACTION_REGISTER, ToState: assignmentv1.CaseState_CASE_STATE_REGISTERED, ActorOffice: "offices/330421102", ToOffice: "offices/330421102", Note: "内部备注"},
		{Sequence: 2, Action: assignmentv1.Action_ACTION_REFER_UP, ToState: assignmentv1.CaseState_CASE_STATE_REGISTERED, ActorOffice: "offices/330421102", ToOffice: "offices/330421.xfj", Note: "内部备注"},
	}
	for _, e := range moves {
		ev := &eventsv1.Event{CaseNumber: c.GetCaseNumber(), Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{Entry: e}}}
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ProjectMove(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: " " + strings.ToLower(c.GetQueryCode()) + " "})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetState() != assignmentv1.CaseState_CASE_STATE_REGISTERED || got.GetHolder() != "嘉善县信访局" || len(got.GetSteps()) != 2 ||
		got.GetSteps()[1].GetAction() != assignmentv1.Action_ACTION_REFER_UP || got.GetSteps()[0].GetOffice() != "大云镇" {
		t.Errorf("progress = %v", got)
	}
	js := protojson.Format(got)
	for _, secret := range []string{idNumber, phone, "张三", c.GetSubject(), c.GetContent(), "内部备注"} {
		if strings.Contains(js, secret) {
			t.Errorf("the public progress shows %q: %s", secret, js)
		}
	}

	for name, tc := range map[string]struct {
		req   *intakev1.GetCaseProgressRequest
		code  codes.Code
		field string
	}{
		"bad name":     {&intakev1.GetCaseProgressRequest{Name: "cases/x", QueryCode: "ABCDEF12"}, codes.InvalidArgument, "name"},
		"short code":   {&intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: "ABC"}, codes.InvalidArgument, "query_code"},
		"missing case": {&intakev1.GetCaseProgressRequest{Name: "cases/330421-2026-999999", QueryCode: c.GetQueryCode()}, codes.NotFound, ""},
	} {
		_, err := s.GetCaseProgress(ctx, tc.req)
		if rpcerr.Code(err) != tc.code || (tc.field != "" && !slices.Contains(rpcerr.Fields(err), tc.field)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	wrong := "00000000"
	if c.GetQueryCode() == wrong {
		wrong = "11111111"
	}
	for i := range 5 {
		if _, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: wrong}); rpcerr.Code(err) != codes.NotFound {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if _, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: c.GetQueryCode()}); rpcerr.Code(err) != codes.ResourceExhausted {
		t.Errorf("after five wrong codes, the right one: %v", err)
	}
}

// TestQueryCodeAtRest: the database holds no query code, in clear or as a
// hash anyone could recompute: a new case's code is derived with the
// identity hash key, and a code drawn before that (still printed on old
// receipts) is replaced at start by its keyed hash and still opens the
// lookup.
func TestQueryCodeAtRest(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	created, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase()})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetCase()
	var row string
	if err := s.Store.Pool.QueryRow(ctx, `SELECT c::text FROM cases c WHERE case_number = $1`, c.GetCaseNumber()).Scan(&row); err != nil {
		t.Fatal(err)
	}
	if c.GetQueryCode() == "" || strings.Contains(strings.ToUpper(row), c.GetQueryCode()) {
		t.Fatalf("the case's row holds its query code %q: %s", c.GetQueryCode(), row)
	}
	var dump string // every table of the schema, as text
	if err := s.Store.Pool.QueryRow(ctx, `SELECT string_agg(t, '|') FROM (
		SELECT c::text AS t FROM cases c UNION ALL SELECT i::text FROM idempotency_keys i UNION ALL SELECT a::text FROM audit_log a) x`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(dump), c.GetQueryCode()) {
		t.Errorf("the database holds the query code %q", c.GetQueryCode())
	}

	// A case registered before codes were derived, its code in clear.
	legacy, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase(), RequestId: "legacy"})
	if err != nil {
		t.Fatal(err)
	}
	num := legacy.GetCase().GetCaseNumber()
	if _, err := s.Store.Pool.Exec(ctx, `UPDATE cases SET query_code = '0A1B2C3D' WHERE case_number = $1`, num); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Store.HashLegacyQueryCodes(ctx); err != nil || n != 1 {
		t.Fatalf("HashLegacyQueryCodes = %d, %v; want 1", n, err)
	}
	if n, err := s.Store.HashLegacyQueryCodes(ctx); err != nil || n != 0 {
		t.Fatalf("a second run = %d, %v; want 0", n, err)
	}
	var clear *string
	var hash []byte
	if err := s.Store.Pool.QueryRow(ctx, `SELECT query_code, query_code_hash FROM cases WHERE case_number = $1`, num).Scan(&clear, &hash); err != nil || clear != nil || len(hash) != 32 {
		t.Fatalf("after hashing: %v %x %v", clear, hash, err)
	}
	for _, tc := range []struct {
		code string
		ok   bool
	}{{"0a1b2c3d", true}, {legacy.GetCase().GetQueryCode(), false}, {"0A1B2C3E", false}} {
		_, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: legacy.GetCase().GetName(), QueryCode: tc.code})
		if (err == nil) != tc.ok {
			t.Errorf("the legacy case with code %q: %v, want ok=%t", tc.code, err, tc.ok)
		}
	}
	if got, err := s.GetCase(authtest.As(t, "demo-dayun"), &intakev1.GetCaseRequest{Name: legacy.GetCase().GetName()}); err != nil || got.GetCase().GetQueryCode() != "" {
		t.Errorf("a legacy code, known only as a hash, shown as %q (%v)", got.GetCase().GetQueryCode(), err)
	}
}

// TestProgressLockoutHoldsUnderConcurrency: twenty wrong codes sent at once
// for one case get five NOT_FOUND and fifteen RESOURCE_EXHAUSTED; another
// case's lookup is not locked; failures older than the window are pruned
// as new ones are recorded.
func TestProgressLockoutHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	var made []*intakev1.Case
	for range 2 {
		created, err := s.CreateCase(authtest.As(t, "demo-dayun"), &intakev1.CreateCaseRequest{Case: validCase()})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, created.GetCase())
	}
	c, other := made[0], made[1]
	wrong := "00000000"
	if c.GetQueryCode() == wrong {
		wrong = "11111111"
	}
	var mu sync.Mutex
	got := map[codes.Code]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: c.GetName(), QueryCode: wrong})
			mu.Lock()
			got[rpcerr.Code(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if got[codes.NotFound] != maxProgressFailures || got[codes.ResourceExhausted] != 20-maxProgressFailures {
		t.Errorf("twenty wrong codes at once: %v, want %d NOT_FOUND and the rest RESOURCE_EXHAUSTED", got, maxProgressFailures)
	}
	if _, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: other.GetName(), QueryCode: other.GetQueryCode()}); err != nil {
		t.Errorf("another case's lookup: %v", err)
	}

	if _, err := s.Store.Pool.Exec(ctx, `INSERT INTO progress_failures (case_number, at)
		SELECT '330421-2026-' || lpad(n::text, 6, '0'), now() - interval '1 hour' FROM generate_series(100, 139) n`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCaseProgress(ctx, &intakev1.GetCaseProgressRequest{Name: other.GetName(), QueryCode: wrong}); rpcerr.Code(err) != codes.NotFound {
		t.Fatalf("a wrong code: %v", err)
	}
	var old int
	if err := s.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM progress_failures WHERE at < now() - interval '15 minutes'`).Scan(&old); err != nil || old != 40-16 {
		t.Errorf("%d failures older than the window after one more (%v), want %d", old, err, 40-16)
	}
}
