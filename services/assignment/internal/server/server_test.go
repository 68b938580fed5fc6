package server

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/migrations"
	"github.com/tongban/tongban/services/platform/authtest"
	"github.com/tongban/tongban/services/platform/directory"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/pgtest"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStart("assignment", migrations.Set)
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

const caseName = "cases/330421-2026-000001"

// registered returns a server whose database holds one case registered by
// 大云镇, taken from intake's event.
func registered(t *testing.T) *Server {
	t.Helper()
	s := New(&store.Store{Pool: testDB.NewDatabase(t)}, directory.Demo())
	ev := &eventsv1.Event{
		EventId: "00000000-0000-4000-8000-000000000001", CaseNumber: "330421-2026-000001", OccurTime: timestamppb.Now(),
		Payload: &eventsv1.Event_CaseRegistered{CaseRegistered: &eventsv1.CaseRegistered{
			County: "330421", Township: "330421102", RegisteredBy: "offices/330421102", RegisteredRole: "clerk",
			Channel: intakev1.Channel_CHANNEL_VISIT, CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM,
		}},
	}
	ctx := context.Background()
	for range 2 { // a replayed registration changes nothing
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.Register(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

type step struct {
	token  string
	call   string // referUp, transfer, answer
	to     string
	code   codes.Code
	reason string
	state  assignmentv1.CaseState
	holder string
}

func (s *Server) do(ctx context.Context, st step) (*assignmentv1.Case, error) {
	switch st.call {
	case "referUp":
		r, err := s.ReferCaseUp(ctx, &assignmentv1.ReferCaseUpRequest{Name: caseName, Reason: "镇级无法协调"})
		return r.GetCase(), err
	case "transfer":
		r, err := s.TransferCase(ctx, &assignmentv1.TransferCaseRequest{Name: caseName, ToOffice: st.to, Reason: "属其职责"})
		return r.GetCase(), err
	case "answer":
		r, err := s.AnswerCase(ctx, &assignmentv1.AnswerCaseRequest{Name: caseName, Outcome: assignmentv1.AnswerOutcome_ANSWER_OUTCOME_SUPPORT, Text: "已处理"})
		return r.GetCase(), err
	}
	panic(st.call)
}

// TestPipeline walks the skeleton's path with the refusals along it.
func TestPipeline(t *testing.T) {
	t.Parallel()
	s := registered(t)
	const (
		reg = assignmentv1.CaseState_CASE_STATE_REGISTERED
		inh = assignmentv1.CaseState_CASE_STATE_IN_HANDLING
		ans = assignmentv1.CaseState_CASE_STATE_ANSWERED
	)
	steps := []step{
		{token: "demo-xitang", call: "referUp", code: codes.NotFound, reason: "CASE_NOT_FOUND"},                                // another township sees nothing
		{token: "demo-bureau", call: "transfer", to: "offices/330421.zjj", code: codes.PermissionDenied, reason: "NOT_HOLDER"}, // 首办负责: the township holds it
		{token: "demo-dayun", call: "transfer", to: "offices/330421.zjj", code: codes.PermissionDenied, reason: "OFFICE_KIND_NOT_ALLOWED"},
		{token: "demo-dayun", call: "referUp", code: codes.OK, state: reg, holder: "offices/330421.xfj"},
		{token: "demo-dayun", call: "referUp", code: codes.PermissionDenied, reason: "NOT_HOLDER"},                                 // no longer holds it, still sees it
		{token: "demo-bureau", call: "transfer", to: "offices/330421102", code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"}, // not a department
		{token: "demo-bureau", call: "transfer", to: "offices/330421.zjj", code: codes.OK, state: inh, holder: "offices/330421.zjj"},
		{token: "demo-zjj", call: "transfer", to: "offices/330421.zjj", code: codes.FailedPrecondition, reason: "TRANSFER_TO_SELF"},
		{token: "demo-rsj", call: "answer", code: codes.NotFound, reason: "CASE_NOT_FOUND"}, // never held it
		{token: "demo-zjj", call: "answer", code: codes.OK, state: ans, holder: "offices/330421.zjj"},
		{token: "demo-zjj", call: "answer", code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"},
		{token: "demo-bureau", call: "transfer", to: "offices/330421.rsj", code: codes.PermissionDenied, reason: "NOT_HOLDER"},
	}
	for i, st := range steps {
		c, err := s.do(authtest.As(t, st.token), st)
		if status.Code(err) != st.code || rpcerr.Reason(err) != st.reason {
			t.Fatalf("step %d (%s %s): %v [%s], want %v [%s]", i, st.token, st.call, err, rpcerr.Reason(err), st.code, st.reason)
		}
		if err == nil && (c.GetState() != st.state || c.GetHolderOffice() != st.holder) {
			t.Fatalf("step %d: state %v holder %s, want %v %s", i, c.GetState(), c.GetHolderOffice(), st.state, st.holder)
		}
	}
	hist, err := s.ListCaseHistory(authtest.As(t, "demo-dayun"), &assignmentv1.ListCaseHistoryRequest{Parent: caseName})
	if err != nil {
		t.Fatal(err)
	}
	var actions []assignmentv1.Action
	for _, e := range hist.GetEntries() {
		actions = append(actions, e.GetAction())
	}
	want := []assignmentv1.Action{assignmentv1.Action_ACTION_REGISTER, assignmentv1.Action_ACTION_REFER_UP, assignmentv1.Action_ACTION_TRANSFER, assignmentv1.Action_ACTION_ANSWER}
	if len(actions) != len(want) {
		t.Fatalf("history = %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("history = %v, want %v", actions, want)
		}
	}
	if hist.GetCase().GetAnswer().GetText() != "已处理" || hist.GetEntries()[3].GetActorOffice() != "offices/330421.zjj" {
		t.Errorf("answer %v by %s", hist.GetCase().GetAnswer(), hist.GetEntries()[3].GetActorOffice())
	}
	// One event per move, registration included; none for refusals.
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Errorf("%d events, want 4", len(evs))
	}
}

func TestEtag(t *testing.T) {
	t.Parallel()
	s := registered(t)
	ctx := authtest.As(t, "demo-dayun")
	_, err := s.ReferCaseUp(ctx, &assignmentv1.ReferCaseUpRequest{Name: caseName, Reason: "r", Etag: `"7"`})
	if status.Code(err) != codes.Aborted || rpcerr.Reason(err) != "ETAG_MISMATCH" {
		t.Fatalf("stale etag: %v", err)
	}
	r, err := s.ReferCaseUp(ctx, &assignmentv1.ReferCaseUpRequest{Name: caseName, Reason: "r", Etag: `"1"`})
	if err != nil || r.GetCase().GetEtag() != `"2"` {
		t.Fatalf("current etag: %v, %v", r, err)
	}
}

// TestReferUpExactlyOnce: a township system retrying its referral (at once,
// from many connections) moves the case once.
func TestReferUpExactlyOnce(t *testing.T) {
	t.Parallel()
	s := registered(t)
	ctx := authtest.As(t, "demo-dayun")
	req := &assignmentv1.ReferCaseUpRequest{Name: caseName, Reason: "镇级无法协调", RequestId: "ts-77"}
	var wg sync.WaitGroup
	etags := make([]string, 8)
	for i := range etags {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.ReferCaseUp(ctx, req)
			if err != nil {
				t.Error(err)
				return
			}
			etags[i] = r.GetCase().GetEtag()
		}()
	}
	wg.Wait()
	for _, e := range etags {
		if e != `"2"` {
			t.Fatalf("etags = %v, want all \"2\"", etags)
		}
	}
	hist, err := s.ListCaseHistory(ctx, &assignmentv1.ListCaseHistoryRequest{Parent: caseName})
	if err != nil || len(hist.GetEntries()) != 2 {
		t.Fatalf("history has %d entries, %v; want 2", len(hist.GetEntries()), err)
	}
}

func TestQueue(t *testing.T) {
	t.Parallel()
	s := registered(t)
	q, err := s.ListOfficeQueue(authtest.As(t, "demo-dayun"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/330421102"})
	if err != nil || len(q.GetCases()) != 1 {
		t.Fatalf("township queue: %v, %v", q, err)
	}
	if _, err := s.ListOfficeQueue(authtest.As(t, "demo-xitang"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/330421102"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another township's queue: %v", err)
	}
	if q, err := s.ListOfficeQueue(authtest.As(t, "demo-bureau"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/330421102"}); err != nil || len(q.GetCases()) != 1 {
		t.Fatalf("bureau reads a township queue: %v, %v", q, err)
	}
	if _, err := s.ListOfficeQueue(authtest.As(t, "demo-bureau"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/nowhere", PageSize: -1}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad queue request: %v", err)
	}
}
