package server

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/migrations"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
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

// base is the test clock's start: a Monday, a working day.
var base = time.Date(2026, 11, 2, 9, 0, 0, 0, calendar.China)

// clock is a test clock the server reads.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// newServer returns a server on a fresh database, with a test clock.
func newServer(t *testing.T) (*Server, *clock) {
	t.Helper()
	s, err := New(&store.Store{Pool: testDB.NewDatabase(t)}, directory.Demo())
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: base}
	s.Now = clk.Now
	return s, clk
}

// reg describes a registration as intake's event carries it.
type reg struct {
	number, township, office string
	class                    intakev1.CaseClass
	accused, repeatOf        string
}

// register feeds intake's CaseRegistered event for r to s, twice (a replay
// changes nothing).
func register(t *testing.T, s *Server, r reg) {
	t.Helper()
	if r.township == "" {
		r.township = "330421102"
	}
	if r.office == "" {
		r.office = r.township
	}
	if r.class == 0 {
		r.class = intakev1.CaseClass_CASE_CLASS_CLAIM
	}
	ev := &eventsv1.Event{
		EventId: "ev-" + r.number, CaseNumber: r.number, OccurTime: timestamppb.New(base),
		Payload: &eventsv1.Event_CaseRegistered{CaseRegistered: &eventsv1.CaseRegistered{
			County: "330421", Township: r.township, RegisteredBy: "offices/" + r.office, RegisteredRole: "clerk",
			Channel: intakev1.Channel_CHANNEL_VISIT, CaseClass: r.class, AccusedOffice: r.accused, RepeatOf: r.repeatOf,
		}},
	}
	ctx := context.Background()
	for range 2 {
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.Register(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
}

// registered returns a server whose database holds one claim registered by
// 大云镇, taken from intake's event.
func registered(t *testing.T) (*Server, *clock) {
	t.Helper()
	s, clk := newServer(t)
	register(t, s, reg{number: "330421-2026-000001"})
	return s, clk
}

// step is one call in a scripted walk, with what it must give.
type step struct {
	token  string
	call   func(ctx context.Context, s *Server, name string) (*assignmentv1.Case, error)
	code   codes.Code
	reason string
	state  assignmentv1.CaseState
	holder string
	wait   time.Duration // advance the clock before the call
}

// Calls, by name, with fixed arguments.
func referUp(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.ReferCaseUp(ctx, &assignmentv1.ReferCaseUpRequest{Name: n, Reason: "镇级无法协调"})
	return r.GetCase(), err
}

func reopen(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.ReopenCase(ctx, &assignmentv1.ReopenCaseRequest{Name: n, Reason: "系新的事项，应予受理"})
	return r.GetCase(), err
}

func transfer(to string) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.TransferCase(ctx, &assignmentv1.TransferCaseRequest{Name: n, ToOffice: to, Reason: "属其职责"})
		return r.GetCase(), err
	}
}

func route(to string, litigation bool) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.RouteCase(ctx, &assignmentv1.RouteCaseRequest{Name: n, ToOffice: to, Reason: "按类别转送", LitigationRelated: litigation})
		return r.GetCase(), err
	}
}

func signFor(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.SignForCase(ctx, &assignmentv1.SignForCaseRequest{Name: n})
	return r.GetCase(), err
}

func sendBack(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.SendBackCase(ctx, &assignmentv1.SendBackCaseRequest{Name: n, Reason: "不属本单位职责"})
	return r.GetCase(), err
}

func acceptReturn(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.AcceptCaseReturn(ctx, &assignmentv1.AcceptCaseReturnRequest{Name: n})
	return r.GetCase(), err
}

func accept(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.AcceptCase(ctx, &assignmentv1.AcceptCaseRequest{Name: n, Notice: "已受理"})
	return r.GetCase(), err
}

func decline(ch assignmentv1.StatutoryChannel) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.DeclineCase(ctx, &assignmentv1.DeclineCaseRequest{Name: n, Channel: ch, Notice: "请通过法定途径提出"})
		return r.GetCase(), err
	}
}

func assignDown(to, due string) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.AssignCaseDown(ctx, &assignmentv1.AssignCaseDownRequest{Name: n, ToOffice: to, Instructions: "请核实处理并报告", ReportDue: due})
		return r.GetCase(), err
	}
}

func report(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.ReportCase(ctx, &assignmentv1.ReportCaseRequest{Name: n, Text: "已核实处理"})
	return r.GetCase(), err
}

func extend(days int32) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.ExtendCase(ctx, &assignmentv1.ExtendCaseRequest{Name: n, Days: days, Reason: "需现场勘测", ApprovedBy: "局长 王某"})
		return r.GetCase(), err
	}
}

func answer(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.AnswerCase(ctx, &assignmentv1.AnswerCaseRequest{Name: n, Outcome: assignmentv1.AnswerOutcome_ANSWER_OUTCOME_REJECT, Text: "经调查，不予支持。", LegalBasis: "《土地管理法》"})
	return r.GetCase(), err
}

func evaluate(rating assignmentv1.Rating) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.EvaluateCase(ctx, &assignmentv1.EvaluateCaseRequest{Name: n, Rating: rating})
		return r.GetCase(), err
	}
}

func requestReview(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.RequestCaseReview(ctx, &assignmentv1.RequestCaseReviewRequest{Name: n, Reason: "对答复不服"})
	return r.GetCase(), err
}

func review(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.ReviewCase(ctx, &assignmentv1.ReviewCaseRequest{Name: n, Outcome: assignmentv1.AnswerOutcome_ANSWER_OUTCOME_REJECT, Text: "维持原答复意见。"})
	return r.GetCase(), err
}

func requestReReview(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.RequestCaseReReview(ctx, &assignmentv1.RequestCaseReReviewRequest{Name: n, Reason: "对复查意见不服"})
	return r.GetCase(), err
}

func reReview(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.ReReviewCase(ctx, &assignmentv1.ReReviewCaseRequest{Name: n, Outcome: assignmentv1.AnswerOutcome_ANSWER_OUTCOME_REJECT, Text: "维持复查意见。"})
	return r.GetCase(), err
}

func startHearing(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.StartCaseHearing(ctx, &assignmentv1.StartCaseHearingRequest{Name: n, Note: "就补偿标准举行听证"})
	return r.GetCase(), err
}

func endHearing(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.EndCaseHearing(ctx, &assignmentv1.EndCaseHearingRequest{Name: n, Note: "听证结束"})
	return r.GetCase(), err
}

func closeCase(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.CloseCase(ctx, &assignmentv1.CloseCaseRequest{Name: n})
	return r.GetCase(), err
}

func addCoHandler(office string) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.AddCaseCoHandler(ctx, &assignmentv1.AddCaseCoHandlerRequest{Name: n, Office: office, Reason: "涉及社保政策"})
		return r.GetCase(), err
	}
}

func contribute(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.ContributeToCase(ctx, &assignmentv1.ContributeToCaseRequest{Name: n, Text: "经核实，社保缴费记录完整。"})
	return r.GetCase(), err
}

func rework(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.ReturnCaseForRework(ctx, &assignmentv1.ReturnCaseForReworkRequest{Name: n, Reason: "答复未说明法律依据"})
	return r.GetCase(), err
}

func urgency(urgent bool) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.SetCaseUrgency(ctx, &assignmentv1.SetCaseUrgencyRequest{Name: n, Urgent: urgent, Reason: "涉及群体利益"})
		return r.GetCase(), err
	}
}

func takeLead(unit, due string) func(context.Context, *Server, string) (*assignmentv1.Case, error) {
	return func(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
		r, err := s.LeadCase(ctx, &assignmentv1.LeadCaseRequest{Name: n, Leader: "张某", LeaderTitle: "副县长", Unit: unit, Person: "李某", DueDate: due})
		return r.GetCase(), err
	}
}

func recordProgress(ctx context.Context, s *Server, n string) (*assignmentv1.Case, error) {
	r, err := s.RecordCaseProgress(ctx, &assignmentv1.RecordCaseProgressRequest{Name: n, Steps: "现场走访", Progress: "已约谈双方", Measures: "下周组织调解"})
	return r.GetCase(), err
}

const (
	registeredState = assignmentv1.CaseState_CASE_STATE_REGISTERED
	inHandling      = assignmentv1.CaseState_CASE_STATE_IN_HANDLING
	answered        = assignmentv1.CaseState_CASE_STATE_ANSWERED
	transferred     = assignmentv1.CaseState_CASE_STATE_TRANSFERRED
	returnRequested = assignmentv1.CaseState_CASE_STATE_RETURN_REQUESTED
	routed          = assignmentv1.CaseState_CASE_STATE_ROUTED
	declined        = assignmentv1.CaseState_CASE_STATE_DECLINED
	evaluated       = assignmentv1.CaseState_CASE_STATE_EVALUATED
	reviewRequested = assignmentv1.CaseState_CASE_STATE_REVIEW_REQUESTED
	reviewed        = assignmentv1.CaseState_CASE_STATE_REVIEWED
	reReviewReq     = assignmentv1.CaseState_CASE_STATE_RE_REVIEW_REQUESTED
	final           = assignmentv1.CaseState_CASE_STATE_FINAL
	closed          = assignmentv1.CaseState_CASE_STATE_CLOSED

	dayun   = "offices/330421102"
	bureau  = "offices/330421.xfj"
	zjj     = "offices/330421.zjj"
	zrzyj   = "offices/330421.zrzyj"
	jiaxing = "offices/330400.xfj"
)

const day = 24 * time.Hour

// walk runs steps on the case name and fails at the first surprise.
func walk(t *testing.T, s *Server, clk *clock, name string, steps []step) {
	t.Helper()
	for i, st := range steps {
		clk.advance(st.wait)
		c, err := st.call(authtest.As(t, st.token), s, name)
		if rpcerr.Code(err) != st.code || rpcerr.Reason(err) != st.reason {
			t.Fatalf("step %d (%s): %v [%s], want %v [%s]", i, st.token, err, rpcerr.Reason(err), st.code, st.reason)
		}
		if err == nil && (c.GetState() != st.state || c.GetHolderOffice() != st.holder) {
			t.Fatalf("step %d (%s): state %v holder %s, want %v %s", i, st.token, c.GetState(), c.GetHolderOffice(), st.state, st.holder)
		}
	}
}

// history returns the case's moves as "ACTION actor→holder" lines, and
// checks that they form one line: each move starts where the last ended.
func history(t *testing.T, s *Server, name string) []string {
	t.Helper()
	h, err := s.ListCaseHistory(authtest.As(t, "demo-bureau"), &assignmentv1.ListCaseHistoryRequest{Parent: name, PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, e := range h.GetEntries() {
		if e.GetSequence() != int64(i+1) {
			t.Errorf("entry %d has sequence %d", i, e.GetSequence())
		}
		if i > 0 {
			prev := h.GetEntries()[i-1]
			if e.GetFromState() != prev.GetToState() || e.GetFromOffice() != prev.GetToOffice() {
				t.Errorf("entry %d starts at %v/%s, the one before ended at %v/%s", i, e.GetFromState(), e.GetFromOffice(), prev.GetToState(), prev.GetToOffice())
			}
		}
		out = append(out, strings.TrimPrefix(e.GetAction().String(), "ACTION_")+" "+strings.TrimPrefix(e.GetActorOffice(), "offices/")+"→"+strings.TrimPrefix(e.GetToOffice(), "offices/"))
	}
	if n := len(h.GetEntries()); n > 0 && h.GetEntries()[n-1].GetToState() != h.GetCase().GetState() {
		t.Errorf("history ends in %v, the case is %v", h.GetEntries()[n-1].GetToState(), h.GetCase().GetState())
	}
	return out
}

// TestHardRoute walks the hard case: township registers → refers up
// → bureau transfers to A → A sends back → bureau transfers to B → B signs
// for, accepts, extends, answers → unsatisfied → review → re-review → 三级终结,
// and a repeat of it is refused; with the refusals met along the way.
func TestHardRoute(t *testing.T) {
	t.Parallel()
	s, clk := registered(t)
	walk(t, s, clk, caseName, []step{
		{token: "demo-xitang", call: referUp, code: codes.NotFound, reason: "CASE_NOT_FOUND"},                          // another township sees nothing
		{token: "demo-bureau", call: transfer(zjj), code: codes.PermissionDenied, reason: "NOT_HOLDER"},                // 首办负责: the township holds it
		{token: "demo-dayun", call: transfer(zjj), code: codes.PermissionDenied, reason: "OFFICE_KIND_NOT_ALLOWED"},    // townships refer up
		{token: "demo-dayun", call: answer, code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"},             // accept first
		{token: "demo-dayun", call: referUp, state: registeredState, holder: bureau},                                   // 上报
		{token: "demo-dayun", call: referUp, code: codes.PermissionDenied, reason: "NOT_HOLDER"},                       // still sees it, no longer holds it
		{token: "demo-bureau", call: transfer(dayun), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"},         // 转送 goes to a department
		{token: "demo-bureau", call: transfer(zjj), state: transferred, holder: bureau},                                // sender stays responsible
		{token: "demo-zjj", call: answer, code: codes.PermissionDenied, reason: "NOT_HOLDER"},                          // not before signing for it
		{token: "demo-rsj", call: signFor, code: codes.NotFound, reason: "CASE_NOT_FOUND"},                             // never involved
		{token: "demo-bureau", call: signFor, code: codes.PermissionDenied, reason: "NOT_PENDING_OFFICE"},              // the sender cannot sign
		{token: "demo-zjj", call: sendBack, wait: 2 * day, state: returnRequested, holder: bureau},                     // 退回 within 5 working days
		{token: "demo-zjj", call: signFor, code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"},              // objection pending
		{token: "demo-bureau", call: acceptReturn, state: registeredState, holder: bureau},                             // 同意退回
		{token: "demo-bureau", call: transfer(zrzyj), state: transferred, holder: bureau},                              // to B
		{token: "demo-zrzyj", call: signFor, state: routed, holder: zrzyj},                                             // 签收
		{token: "demo-zrzyj", call: extend(10), code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"},         // accept first
		{token: "demo-zrzyj", call: accept, state: inHandling, holder: zrzyj},                                          // 受理
		{token: "demo-zrzyj", call: extend(61), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"},               // Zhejiang: at most 60
		{token: "demo-zrzyj", call: extend(30), state: inHandling, holder: zrzyj},                                      // 延期
		{token: "demo-zrzyj", call: extend(10), code: codes.FailedPrecondition, reason: "ALREADY_EXTENDED"},            // once
		{token: "demo-zrzyj", call: answer, wait: 20 * day, state: answered, holder: zrzyj},                            // 答复
		{token: "demo-zrzyj", call: answer, code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"},             // once
		{token: "demo-bureau", call: closeCase, code: codes.FailedPrecondition, reason: "NEXT_INSTANCE_PERIOD_OPEN"},   // the petitioner may still ask
		{token: "demo-dayun", call: evaluate(assignmentv1.Rating_RATING_UNSATISFIED), state: evaluated, holder: zrzyj}, // 不满意
		{token: "demo-dayun", call: requestReview, wait: 10 * day, state: reviewRequested, holder: bureau},             // 复查 → the county
		{token: "demo-zrzyj", call: review, code: codes.PermissionDenied, reason: "OFFICE_KIND_NOT_ALLOWED"},           // a department does not review
		{token: "demo-bureau", call: review, state: reviewed, holder: bureau},                                          // 复查意见
		{token: "demo-dayun", call: requestReReview, wait: 29 * day, state: reReviewReq, holder: jiaxing},              // 复核 → the prefecture
		{token: "demo-jiaxing", call: reReview, state: final, holder: jiaxing},                                         // 三级终结
		{token: "demo-dayun", call: requestReview, code: codes.FailedPrecondition, reason: "CASE_FINAL"},               // nothing more
		{token: "demo-bureau", call: closeCase, code: codes.FailedPrecondition, reason: "CASE_FINAL"},
	})
	want := []string{
		"REGISTER 330421102→330421102",
		"REFER_UP 330421102→330421.xfj",
		"TRANSFER 330421.xfj→330421.xfj",
		"SEND_BACK 330421.zjj→330421.xfj",
		"ACCEPT_RETURN 330421.xfj→330421.xfj",
		"TRANSFER 330421.xfj→330421.xfj",
		"SIGN_FOR 330421.zrzyj→330421.zrzyj",
		"ACCEPT 330421.zrzyj→330421.zrzyj",
		"EXTEND 330421.zrzyj→330421.zrzyj",
		"ANSWER 330421.zrzyj→330421.zrzyj",
		"EVALUATE 330421102→330421.zrzyj",
		"REQUEST_REVIEW 330421102→330421.xfj",
		"REVIEW 330421.xfj→330421.xfj",
		"REQUEST_RE_REVIEW 330421102→330400.xfj",
		"RE_REVIEW 330400.xfj→330400.xfj",
	}
	if got := history(t, s, caseName); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// One event per move, registration included; none for refusals.
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(want) {
		t.Errorf("%d events, want %d", len(evs), len(want))
	}
	for i, ev := range evs {
		if i < len(want) && !strings.HasPrefix(want[i], strings.TrimPrefix(ev.GetCaseMoved().GetEntry().GetAction().String(), "ACTION_")+" ") {
			t.Errorf("event %d is %v, want %s", i, ev.GetCaseMoved().GetEntry().GetAction(), want[i])
		}
	}
	got, err := s.ListCaseHistory(authtest.As(t, "demo-dayun"), &assignmentv1.ListCaseHistoryRequest{Parent: caseName})
	if err != nil {
		t.Fatal(err)
	}
	c := got.GetCase()
	if c.GetExtension().GetDays() != 30 || c.GetAnswer().GetLegalBasis() != "《土地管理法》" || c.GetEvaluation().GetRating() != assignmentv1.Rating_RATING_UNSATISFIED ||
		c.GetReview().GetOffice() != bureau || c.GetReReview().GetOffice() != jiaxing {
		t.Errorf("documents: %v", c)
	}
	// A possible repeat of the final case (intake linked it) is not
	// declined by a guess: it is registered, and its holder decides.
	const repeat = "cases/330421-2026-000002"
	register(t, s, reg{number: "330421-2026-000002", repeatOf: caseName})
	h, err := s.ListCaseHistory(authtest.As(t, "demo-dayun"), &assignmentv1.ListCaseHistoryRequest{Parent: repeat})
	if err != nil {
		t.Fatal(err)
	}
	if c := h.GetCase(); c.GetState() != assignmentv1.CaseState_CASE_STATE_REGISTERED || c.GetRepeatOf() != caseName ||
		!slices.Contains(c.GetAvailableActions(), assignmentv1.Action_ACTION_ACCEPT) || !slices.Contains(c.GetAvailableActions(), assignmentv1.Action_ACTION_DECLINE) {
		t.Errorf("a possible repeat of a final case: %v", h)
	}
	// The clerk finds it the same matter and declines it citing Art 36 ¶3;
	// the bureau finds otherwise and reopens it in one move.
	walk(t, s, clk, repeat, []step{
		{token: "demo-dayun", call: decline(assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_FINALLY_CLOSED), state: declined, holder: "offices/330421102"},
		{token: "demo-dayun", call: reopen, code: codes.PermissionDenied, reason: "OFFICE_KIND_NOT_ALLOWED"},
		{token: "demo-bureau", call: reopen, state: assignmentv1.CaseState_CASE_STATE_REGISTERED, holder: "offices/330421102"},
		{token: "demo-dayun", call: accept, state: assignmentv1.CaseState_CASE_STATE_IN_HANDLING, holder: "offices/330421102"},
	})
	h, err = s.ListCaseHistory(authtest.As(t, "demo-bureau"), &assignmentv1.ListCaseHistoryRequest{Parent: repeat})
	if err != nil {
		t.Fatal(err)
	}
	es := h.GetEntries()
	if len(es) != 4 || es[2].GetAction() != assignmentv1.Action_ACTION_REOPEN || !strings.Contains(es[2].GetNote(), "纠正不予受理：") ||
		!strings.Contains(es[2].GetNote(), "原不予受理告知") || len(h.GetCase().GetCorrectedDeclines()) != 1 ||
		h.GetCase().GetCorrectedDeclines()[0].GetFinalCase() != caseName || h.GetCase().GetDecline() != nil {
		t.Errorf("the correction in the history: %v", h)
	}
}

// TestRefusals: every refusal of the state machine's methods, each on a
// case of its own.
func TestRefusals(t *testing.T) {
	t.Parallel()
	claim, suggestion, accusation := intakev1.CaseClass_CASE_CLASS_CLAIM, intakev1.CaseClass_CASE_CLASS_SUGGESTION, intakev1.CaseClass_CASE_CLASS_ACCUSATION
	tests := []struct {
		name  string
		reg   reg
		steps []step
	}{
		{"accusation never reaches the accused unit", reg{office: "330421.xfj", class: accusation, accused: "330421.zjj"}, []step{
			{token: "demo-zjj", call: signFor, code: codes.NotFound, reason: "CASE_NOT_FOUND"}, // it cannot even see it
			{token: "demo-bureau", call: route(zjj, false), code: codes.FailedPrecondition, reason: "ACCUSED_UNIT"},
			{token: "demo-bureau", call: assignDown(dayun, "2026-11-30"), state: routed, holder: dayun},
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
		}},
		{"accusation goes to the discipline organ by default", reg{office: "330421.xfj", class: accusation, accused: "330421.zjj"}, []step{
			{token: "demo-bureau", call: route("", false), state: transferred, holder: bureau},
			{token: "demo-jw", call: signFor, state: routed, holder: "offices/330421.jw"},
			{token: "demo-jw", call: accept, state: inHandling, holder: "offices/330421.jw"},
		}},
		{"the accused unit is refused on every later transfer too", reg{office: "330421.xfj", class: accusation, accused: "330421.zjj"}, []step{
			{token: "demo-bureau", call: route(zrzyj, false), state: transferred, holder: bureau},
			{token: "demo-zrzyj", call: signFor, state: routed, holder: zrzyj},
			{token: "demo-zrzyj", call: transfer(zjj), code: codes.FailedPrecondition, reason: "ACCUSED_UNIT"},
		}},
		{"only a claim's route falls back on nobody", reg{office: "330421.xfj"}, []step{
			{token: "demo-bureau", call: route("", false), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"},
		}},
		{"涉法涉诉 goes only to a 政法 organ", reg{office: "330421.xfj"}, []step{
			{token: "demo-bureau", call: route(zjj, true), code: codes.FailedPrecondition, reason: "NOT_POLITICS_LAW_ORGAN"},
			{token: "demo-bureau", call: route("offices/330421.gaj", true), state: transferred, holder: bureau},
			{token: "demo-gaj", call: signFor, state: routed, holder: "offices/330421.gaj"},
			{token: "demo-gaj", call: transfer(zjj), code: codes.FailedPrecondition, reason: "NOT_POLITICS_LAW_ORGAN"},
			{token: "demo-gaj", call: transfer("offices/330421.fy"), state: transferred, holder: "offices/330421.gaj"},
		}},
		{"the objection period is 5 working days", reg{office: "330421.xfj"}, []step{
			{token: "demo-bureau", call: transfer(zjj), state: transferred, holder: bureau},                                     // Monday 2 Nov
			{token: "demo-zjj", call: sendBack, wait: 8 * day, code: codes.FailedPrecondition, reason: "OBJECTION_PERIOD_OVER"}, // Tuesday 10 Nov: 6 working days on
			{token: "demo-zjj", call: signFor, state: routed, holder: zjj},
		}},
		{"the objection period ends at the end of its fifth working day", reg{office: "330421.xfj"}, []step{
			{token: "demo-bureau", call: transfer(zjj), state: transferred, holder: bureau},
			{token: "demo-zjj", call: sendBack, wait: 7*day + 14*time.Hour, state: returnRequested, holder: bureau}, // Monday 9 Nov, 23:00
		}},
		{"bouncing between the same offices goes to the bureau", reg{township: "330421102", office: "330421.zjj"}, []step{
			{token: "demo-zjj", call: transfer(zrzyj), state: transferred, holder: zjj},
			{token: "demo-zrzyj", call: sendBack, state: returnRequested, holder: zjj},
			{token: "demo-zjj", call: transfer(zrzyj), state: transferred, holder: zjj},
			{token: "demo-zrzyj", call: sendBack, state: returnRequested, holder: zjj},
			{token: "demo-zjj", call: transfer(zrzyj), state: transferred, holder: zjj},
			{token: "demo-zrzyj", call: sendBack, state: registeredState, holder: bureau},               // the third: escalated
			{token: "demo-zjj", call: acceptReturn, code: codes.PermissionDenied, reason: "NOT_HOLDER"}, // the bureau decides now
			{token: "demo-bureau", call: transfer(zrzyj), state: transferred, holder: bureau},
		}},
		{"circling through departments goes to the bureau at the third send-back", reg{township: "330421102", office: "330421.zjj"}, []step{
			{token: "demo-zjj", call: transfer("offices/330421.rsj"), state: transferred, holder: zjj},
			{token: "demo-rsj", call: sendBack, state: returnRequested, holder: zjj},
			{token: "demo-zjj", call: transfer(zrzyj), state: transferred, holder: zjj},
			{token: "demo-zrzyj", call: sendBack, state: returnRequested, holder: zjj},
			{token: "demo-zjj", call: transfer("offices/330421.mzj"), state: transferred, holder: zjj},
			{token: "demo-mzj", call: sendBack, state: registeredState, holder: bureau}, // three organs, three refusals
		}},
		{"assigned down, reported once", reg{office: "330421.xfj"}, []step{
			{token: "demo-bureau", call: assignDown(zjj, "2026-11-30"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"},   // not a township
			{token: "demo-bureau", call: assignDown(dayun, "2026-11-01"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"}, // in the past
			{token: "demo-bureau", call: assignDown(dayun, "2026-11-30"), state: routed, holder: dayun},
			{token: "demo-dayun", call: report, code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"}, // accept first
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
			{token: "demo-dayun", call: answer, state: answered, holder: dayun},
			{token: "demo-dayun", call: report, state: answered, holder: dayun},
			{token: "demo-dayun", call: report, code: codes.FailedPrecondition, reason: "ALREADY_REPORTED"},
		}},
		{"only assigned cases take a report", reg{}, []step{
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
			{token: "demo-dayun", call: report, code: codes.FailedPrecondition, reason: "NOT_ASSIGNED"},
		}},
		{"decline names a channel and ends the case", reg{}, []step{
			{token: "demo-dayun", call: decline(assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_UNSPECIFIED), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"},
			{token: "demo-dayun", call: decline(assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_FINALLY_CLOSED), code: codes.FailedPrecondition, reason: "NOT_A_REPEAT_OF_FINAL"},
			{token: "demo-dayun", call: decline(assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_ARBITRATION), state: declined, holder: dayun},
			{token: "demo-dayun", call: accept, code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"},
		}},
		{"a suggestion has no handling period and no review", reg{class: suggestion}, []step{
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
			{token: "demo-dayun", call: extend(10), code: codes.FailedPrecondition, reason: "NO_HANDLING_PERIOD"},
			{token: "demo-dayun", call: answer, state: answered, holder: dayun},
			{token: "demo-dayun", call: requestReview, code: codes.FailedPrecondition, reason: "NO_REVIEW_FOR_CLASS"},
			{token: "demo-dayun", call: closeCase, state: closed, holder: dayun}, // at once
		}},
		{"review is asked within 30 days", reg{class: claim}, []step{
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
			{token: "demo-dayun", call: answer, state: answered, holder: dayun}, // Monday 2 Nov: due Wednesday 2 Dec
			{token: "demo-dayun", call: requestReview, wait: 31 * day, code: codes.FailedPrecondition, reason: "PERIOD_OVER"},
			{token: "demo-dayun", call: closeCase, state: closed, holder: dayun},
		}},
		{"a satisfied petitioner's case closes at once", reg{}, []step{
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
			{token: "demo-dayun", call: answer, state: answered, holder: dayun},
			{token: "demo-dayun", call: evaluate(assignmentv1.Rating_RATING_UNSPECIFIED), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"},
			{token: "demo-dayun", call: evaluate(assignmentv1.Rating_RATING_BASICALLY_SATISFIED), state: evaluated, holder: dayun},
			{token: "demo-dayun", call: evaluate(assignmentv1.Rating_RATING_SATISFIED), code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"},
			{token: "demo-bureau", call: closeCase, state: closed, holder: dayun}, // the bureau supervises
		}},
		{"re-review is asked within 30 days of the review", reg{}, []step{
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
			{token: "demo-dayun", call: answer, state: answered, holder: dayun},
			{token: "demo-dayun", call: requestReview, state: reviewRequested, holder: bureau},
			{token: "demo-bureau", call: review, state: reviewed, holder: bureau},
			{token: "demo-bureau", call: closeCase, code: codes.FailedPrecondition, reason: "NEXT_INSTANCE_PERIOD_OPEN"},
			{token: "demo-dayun", call: requestReReview, wait: 40 * day, code: codes.FailedPrecondition, reason: "PERIOD_OVER"},
			{token: "demo-bureau", call: closeCase, state: closed, holder: bureau},
		}},
		{"co-handlers add findings but cannot answer", reg{office: "330421.xfj"}, []step{
			{token: "demo-bureau", call: transfer(zjj), state: transferred, holder: bureau},
			{token: "demo-zjj", call: signFor, state: routed, holder: zjj},
			{token: "demo-rsj", call: contribute, code: codes.NotFound, reason: "CASE_NOT_FOUND"}, // not yet involved
			{token: "demo-zjj", call: addCoHandler("offices/330421.rsj"), state: routed, holder: zjj},
			{token: "demo-zjj", call: addCoHandler("offices/330421.rsj"), code: codes.FailedPrecondition, reason: "ALREADY_CO_HANDLER"},
			{token: "demo-bureau", call: addCoHandler(zjj), code: codes.FailedPrecondition, reason: "ALREADY_LEAD"},
			{token: "demo-rsj", call: contribute, code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"}, // accept first
			{token: "demo-zjj", call: accept, state: inHandling, holder: zjj},
			{token: "demo-rsj", call: contribute, state: inHandling, holder: zjj},
			{token: "demo-zjj", call: contribute, code: codes.PermissionDenied, reason: "NOT_CO_HANDLER"},
			{token: "demo-rsj", call: answer, code: codes.PermissionDenied, reason: "NOT_HOLDER"},
			{token: "demo-rsj", call: closeCase, code: codes.PermissionDenied, reason: "NOT_HOLDER"},
			{token: "demo-zjj", call: answer, state: answered, holder: zjj},
		}},
		{"the bureau returns an inadequate answer for rework", reg{}, []step{
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
			{token: "demo-bureau", call: rework, code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"}, // nothing answered yet
			{token: "demo-dayun", call: answer, state: answered, holder: dayun},
			{token: "demo-dayun", call: rework, code: codes.PermissionDenied, reason: "OFFICE_KIND_NOT_ALLOWED"},
			{token: "demo-bureau", call: rework, state: inHandling, holder: dayun},
			{token: "demo-dayun", call: answer, state: answered, holder: dayun},
		}},
		{"urgency is set and cleared", reg{}, []step{
			{token: "demo-xitang", call: urgency(true), code: codes.NotFound, reason: "CASE_NOT_FOUND"},
			{token: "demo-bureau", call: urgency(true), state: registeredState, holder: dayun},
			{token: "demo-dayun", call: urgency(true), code: codes.FailedPrecondition, reason: "URGENCY_UNCHANGED"},
			{token: "demo-dayun", call: urgency(false), state: registeredState, holder: dayun},
		}},
		{"a leader takes charge once; the card records progress", reg{}, []step{
			{token: "demo-dayun", call: recordProgress, code: codes.FailedPrecondition, reason: "NOT_LED"},
			{token: "demo-dayun", call: takeLead(dayun, "2026-12-15"), code: codes.PermissionDenied, reason: "OFFICE_KIND_NOT_ALLOWED"},
			{token: "demo-bureau", call: takeLead(dayun, "2026-10-15"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT"}, // past
			{token: "demo-bureau", call: takeLead(dayun, "2026-12-15"), state: registeredState, holder: dayun},
			{token: "demo-bureau", call: takeLead(zjj, "2026-12-15"), code: codes.FailedPrecondition, reason: "ALREADY_LED"},
			{token: "demo-xitang", call: recordProgress, code: codes.NotFound, reason: "CASE_NOT_FOUND"},
			{token: "demo-dayun", call: recordProgress, state: registeredState, holder: dayun},
			{token: "demo-dayun", call: referUp, state: registeredState, holder: bureau},
			{token: "demo-dayun", call: recordProgress, state: registeredState, holder: bureau}, // still the unit in charge
		}},
		{"only the holder, the unit in charge or the bureau records on the card", reg{}, []step{
			{token: "demo-bureau", call: takeLead(zjj, "2026-12-15"), state: registeredState, holder: dayun},
			{token: "demo-zjj", call: recordProgress, state: registeredState, holder: dayun}, // the unit in charge reads and records
			{token: "demo-dayun", call: referUp, state: registeredState, holder: bureau},
			{token: "demo-dayun", call: recordProgress, code: codes.PermissionDenied, reason: "NOT_IN_CHARGE"},
		}},
		{"no transfer to the holder itself", reg{office: "330421.zjj"}, []step{
			{token: "demo-zjj", call: transfer(zjj), code: codes.FailedPrecondition, reason: "TRANSFER_TO_SELF"},
		}},
		{"above the prefecture there is no organ in this system", reg{office: "330421.xfj"}, []step{
			{token: "demo-bureau", call: accept, state: inHandling, holder: bureau},
			{token: "demo-bureau", call: answer, state: answered, holder: bureau},
			{token: "demo-bureau", call: requestReview, state: reviewRequested, holder: jiaxing}, // the county answered: the prefecture reviews
			{token: "demo-jiaxing", call: review, state: reviewed, holder: jiaxing},
			{token: "demo-bureau", call: requestReReview, code: codes.FailedPrecondition, reason: "NO_HIGHER_ORGAN"},
		}},
		{"a hearing is held once at a time during re-review", reg{}, []step{
			{token: "demo-dayun", call: accept, state: inHandling, holder: dayun},
			{token: "demo-dayun", call: answer, state: answered, holder: dayun},
			{token: "demo-dayun", call: startHearing, code: codes.PermissionDenied, reason: "OFFICE_KIND_NOT_ALLOWED"}, // townships hold no re-review
			{token: "demo-dayun", call: requestReview, state: reviewRequested, holder: bureau},
			{token: "demo-bureau", call: review, state: reviewed, holder: bureau},
			{token: "demo-bureau", call: startHearing, code: codes.FailedPrecondition, reason: "CASE_STATE_CONFLICT"}, // only in re-review
			{token: "demo-dayun", call: requestReReview, state: reReviewReq, holder: jiaxing},
			{token: "demo-jiaxing", call: endHearing, code: codes.FailedPrecondition, reason: "NO_HEARING"},
			{token: "demo-bureau", call: startHearing, code: codes.PermissionDenied, reason: "NOT_HOLDER"},
			{token: "demo-jiaxing", call: startHearing, state: reReviewReq, holder: jiaxing},
			{token: "demo-jiaxing", call: startHearing, code: codes.FailedPrecondition, reason: "HEARING_OPEN"},
			{token: "demo-jiaxing", call: endHearing, state: reReviewReq, holder: jiaxing},
			{token: "demo-jiaxing", call: reReview, state: final, holder: jiaxing},
		}},
		{"service accounts move nothing", reg{}, []step{
			{token: authtest.ServiceToken, call: accept, code: codes.PermissionDenied, reason: "ROLE_NOT_ALLOWED"},
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, clk := newServer(t)
			tc.reg.number = fmt.Sprintf("330421-2026-%06d", i+1)
			register(t, s, tc.reg)
			walk(t, s, clk, names.Case(tc.reg.number), tc.steps)
			history(t, s, names.Case(tc.reg.number))
		})
	}
}

// TestChargeDocuments checks what co-handling, rework, urgency and a lead
// leave on the case, the card, and the queue order.
func TestChargeDocuments(t *testing.T) {
	t.Parallel()
	s, clk := registered(t)
	register(t, s, reg{number: "330421-2026-000002"})
	walk(t, s, clk, caseName, []step{
		{token: "demo-dayun", call: referUp, state: registeredState, holder: bureau},
		{token: "demo-bureau", call: transfer(zjj), state: transferred, holder: bureau},
		{token: "demo-zjj", call: signFor, state: routed, holder: zjj},
		{token: "demo-zjj", call: accept, state: inHandling, holder: zjj},
		{token: "demo-zjj", call: addCoHandler("offices/330421.rsj"), state: inHandling, holder: zjj},
		{token: "demo-rsj", call: contribute, state: inHandling, holder: zjj},
		{token: "demo-zjj", call: answer, state: answered, holder: zjj},
		{token: "demo-bureau", call: rework, state: inHandling, holder: zjj},
		{token: "demo-bureau", call: takeLead(zjj, "2026-11-20"), state: inHandling, holder: zjj},
		{token: "demo-zjj", call: recordProgress, state: inHandling, holder: zjj},
	})
	h, err := s.ListCaseHistory(authtest.As(t, "demo-bureau"), &assignmentv1.ListCaseHistoryRequest{Parent: caseName})
	if err != nil {
		t.Fatal(err)
	}
	c := h.GetCase()
	if len(c.GetCoHandlers()) != 1 || len(c.GetContributions()) != 1 || c.GetContributions()[0].GetKind() != assignmentv1.ContributionKind_CONTRIBUTION_KIND_FINDING ||
		len(c.GetReworkedAnswers()) != 1 || c.GetAnswer() != nil || c.GetLead().GetLeader() != "张某" || len(c.GetProgress()) != 1 {
		t.Errorf("documents: %v", c)
	}
	card := func() *assignmentv1.CaseCard {
		t.Helper()
		r, err := s.GetCaseCard(authtest.As(t, "demo-zjj"), &assignmentv1.GetCaseCardRequest{Name: caseName + "/card"})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetCard()
	}
	if k := card(); k.GetOverdue() || k.GetLead().GetUnit() != zjj || len(k.GetProgress()) != 1 || k.GetProgress()[0].GetMeasures() != "下周组织调解" {
		t.Errorf("card: %v", k)
	}
	clk.advance(19 * day) // past 20 November, unanswered
	if k := card(); !k.GetOverdue() {
		t.Errorf("card after the completion date: %v", k)
	}
	if _, err := s.GetCaseCard(authtest.As(t, "demo-dayun"), &assignmentv1.GetCaseCardRequest{Name: "cases/330421-2026-000002/card"}); rpcerr.Code(err) != codes.FailedPrecondition {
		t.Errorf("card of a case nobody leads: %v", err)
	}
	if _, err := s.GetCaseCard(authtest.As(t, "demo-dayun"), &assignmentv1.GetCaseCardRequest{Name: caseName}); rpcerr.Code(err) != codes.InvalidArgument {
		t.Errorf("card named without /card: %v", err)
	}
	// Urgent cases head the queue.
	walk(t, s, clk, "cases/330421-2026-000002", []step{{token: "demo-bureau", call: urgency(true), state: registeredState, holder: dayun}})
	register(t, s, reg{number: "330421-2026-000003"})
	q, err := s.ListOfficeQueue(authtest.As(t, "demo-dayun"), &assignmentv1.ListOfficeQueueRequest{Parent: dayun})
	if err != nil || len(q.GetCases()) != 2 || q.GetCases()[0].GetCaseNumber() != "330421-2026-000002" || !q.GetCases()[0].GetUrgent() {
		t.Errorf("queue: %v, %v", q, err)
	}
}

// TestEtag: a case's etag carries intake's registration version (from its
// feed) and assignment's moves; a move checks the moves' part only, and
// answers with the newest of each part it knows or was sent.
func TestEtag(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
	ctx := authtest.As(t, "demo-dayun")
	card := func() string {
		t.Helper()
		h, err := s.ListCaseHistory(ctx, &assignmentv1.ListCaseHistoryRequest{Parent: caseName})
		if err != nil {
			t.Fatal(err)
		}
		return h.GetCase().GetEtag()
	}
	if got := card(); got != `"1.1"` {
		t.Fatalf("a registered case's etag = %s, want \"1.1\"", got)
	}
	corrected := func(version int64) {
		t.Helper()
		ev := &eventsv1.Event{
			EventId: fmt.Sprintf("ev-corrected-%d", version), CaseNumber: "330421-2026-000001", OccurTime: timestamppb.New(base),
			Payload: &eventsv1.Event_CaseCorrected{CaseCorrected: &eventsv1.CaseCorrected{Fields: []string{"subject"}, Version: version}},
		}
		if err := pgdb.InTx(context.Background(), s.Store.Pool, func(tx pgx.Tx) error { return s.Register(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	urgent := false
	for _, tc := range []struct {
		name      string
		corrected int64 // a CaseCorrected event first, with this version
		sent      string
		want      string // the move's etag; "" for ABORTED
	}{
		{name: "stale moves", sent: `"1.7"`},
		{name: "an etag of one service, as before", sent: `"1"`},
		{name: "current", sent: `"1.1"`, want: `"1.2"`},
		{name: "after a correction, the registration part behind", corrected: 2, sent: `"1.2"`, want: `"2.3"`},
		{name: "a correction arriving late never lowers it", corrected: 1, sent: `"2.3"`, want: `"2.4"`},
		{name: "the client has seen a correction the feed has not brought", sent: `"3.4"`, want: `"3.5"`},
	} {
		if tc.corrected > 0 {
			corrected(tc.corrected)
		}
		before := card()
		r, err := s.SetCaseUrgency(ctx, &assignmentv1.SetCaseUrgencyRequest{Name: caseName, Urgent: !urgent, Reason: tc.name, Etag: tc.sent})
		if err == nil {
			urgent = !urgent
		}
		switch {
		case tc.want == "" && (rpcerr.Code(err) != codes.Aborted || rpcerr.Reason(err) != "ETAG_MISMATCH"):
			t.Errorf("%s: %v, want ABORTED ETAG_MISMATCH", tc.name, err)
		case tc.want == "" && card() != before:
			t.Errorf("%s: a refused move changed the etag %s → %s", tc.name, before, card())
		case tc.want != "" && (err != nil || r.GetCase().GetEtag() != tc.want):
			t.Errorf("%s: etag %s, %v; want %s", tc.name, r.GetCase().GetEtag(), err, tc.want)
		}
	}
	// What a read shows: the registration as the feed told it (the echo
	// is the client's, not stored).
	if got := card(); got != `"2.5"` {
		t.Errorf("the case's etag = %s, want \"2.5\"", got)
	}
}

// TestReferUpExactlyOnce: a township system retrying its referral (at once,
// from many connections) moves the case once.
func TestReferUpExactlyOnce(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
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
		if e != `"1.2"` {
			t.Fatalf("etags = %v, want all \"1.2\"", etags)
		}
	}
	hist, err := s.ListCaseHistory(ctx, &assignmentv1.ListCaseHistoryRequest{Parent: caseName})
	if err != nil || len(hist.GetEntries()) != 2 {
		t.Fatalf("history has %d entries, %v; want 2", len(hist.GetEntries()), err)
	}
}

// TestConcurrentMoves hammers one case from many goroutines, each office
// trying what it may (transfers, sign-fors, send-backs, acceptances,
// answers) at once; whoever wins, the history stays one consistent line and
// the case ends where its last entry says.
func TestConcurrentMoves(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	register(t, s, reg{number: "330421-2026-000001", office: "330421.xfj"})
	s.SendBackLimit = 1000 // keep the bouncing going
	offices := []string{"demo-zjj", "demo-rsj", "demo-zrzyj", "demo-bureau"}
	depts := []string{zjj, "offices/330421.rsj", zrzyj}
	calls := []func(context.Context, *Server, string) (*assignmentv1.Case, error){
		transfer(depts[0]), transfer(depts[1]), transfer(depts[2]), signFor, sendBack, acceptReturn, accept,
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := authtest.As(t, offices[g%len(offices)])
			for i := range 25 {
				_, err := calls[(g*7+i)%len(calls)](ctx, s, caseName)
				switch rpcerr.Code(err) {
				case codes.OK:
					mu.Lock()
					wins++
					mu.Unlock()
				case codes.FailedPrecondition, codes.PermissionDenied, codes.NotFound, codes.InvalidArgument:
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	h := history(t, s, caseName)
	if len(h) != wins+1 {
		t.Errorf("%d successful moves but %d history entries after the registration", wins, len(h)-1)
	}
	if wins < 2 {
		t.Errorf("only %d moves won: the hammer did not exercise the case", wins)
	}
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil || len(evs) != len(h) {
		t.Errorf("%d events for %d moves (%v)", len(evs), len(h), err)
	}
}

func TestQueue(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
	q, err := s.ListOfficeQueue(authtest.As(t, "demo-dayun"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/330421102"})
	if err != nil || len(q.GetCases()) != 1 {
		t.Fatalf("township queue: %v, %v", q, err)
	}
	if _, err := s.ListOfficeQueue(authtest.As(t, "demo-xitang"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/330421102"}); rpcerr.Code(err) != codes.PermissionDenied {
		t.Fatalf("another township's queue: %v", err)
	}
	if q, err := s.ListOfficeQueue(authtest.As(t, "demo-bureau"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/330421102"}); err != nil || len(q.GetCases()) != 1 {
		t.Fatalf("bureau reads a township queue: %v, %v", q, err)
	}
	if _, err := s.ListOfficeQueue(authtest.As(t, "demo-bureau"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/nowhere", PageSize: -1}); rpcerr.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad queue request: %v", err)
	}
	// A transfer waits in the receiver's queue, not the sender's.
	walk(t, s, &clock{now: base}, caseName, []step{
		{token: "demo-dayun", call: referUp, state: registeredState, holder: bureau},
		{token: "demo-bureau", call: transfer(zjj), state: transferred, holder: bureau},
	})
	for _, tc := range []struct {
		token, office string
		want          int
	}{{"demo-zjj", zjj, 1}, {"demo-bureau", bureau, 0}, {"demo-dayun", dayun, 0}} {
		q, err := s.ListOfficeQueue(authtest.As(t, tc.token), &assignmentv1.ListOfficeQueueRequest{Parent: tc.office})
		if err != nil || len(q.GetCases()) != tc.want {
			t.Errorf("%s's queue has %d cases (%v), want %d", tc.token, len(q.GetCases()), err, tc.want)
		}
	}
}

// TestDeadlinesShown: scheduling's clocks are kept with the case and shown
// on it, running ones first; a clock of an unknown case is ignored.
func TestDeadlinesShown(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
	ctx := context.Background()
	clock := func(number string, kind assignmentv1.ClockKind, stopped bool) {
		t.Helper()
		d := &assignmentv1.Deadline{Kind: kind, Office: dayun, DueTime: timestamppb.New(base.AddDate(0, 0, 7)), Rule: "5个工作日"}
		if stopped {
			d.StopTime = timestamppb.New(base)
		}
		ev := &eventsv1.Event{CaseNumber: number, Payload: &eventsv1.Event_ClockChanged{ClockChanged: &eventsv1.ClockChanged{County: "330421", Deadline: d}}}
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ApplyScheduling(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	clock("330421-2026-000001", assignmentv1.ClockKind_CLOCK_KIND_ROUTING, false)
	clock("330421-2026-000001", assignmentv1.ClockKind_CLOCK_KIND_ROUTING, true) // stopped later: replaced
	clock("330421-2026-000001", assignmentv1.ClockKind_CLOCK_KIND_HANDLING, false)
	clock("330421-2026-000999", assignmentv1.ClockKind_CLOCK_KIND_ROUTING, false)
	h, err := s.ListCaseHistory(authtest.As(t, "demo-dayun"), &assignmentv1.ListCaseHistoryRequest{Parent: caseName})
	if err != nil {
		t.Fatal(err)
	}
	ds := h.GetCase().GetDeadlines()
	if len(ds) != 2 || ds[0].GetKind() != assignmentv1.ClockKind_CLOCK_KIND_HANDLING || ds[1].GetStopTime() == nil {
		t.Errorf("deadlines: %v", ds)
	}
	// Transitions answer with them too.
	c, err := referUp(authtest.As(t, "demo-dayun"), s, caseName)
	if err != nil || len(c.GetDeadlines()) != 2 {
		t.Errorf("after a move: %v, %v", c.GetDeadlines(), err)
	}
}

// TestHolidayNoticeFromScheduling: a notice scheduling loaded at run time
// joins the calendar of assignment's periods, and survives a restart.
func TestHolidayNoticeFromScheduling(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	ctx := context.Background()
	ev := &eventsv1.Event{Payload: &eventsv1.Event_HolidayNoticeImported{HolidayNoticeImported: &eventsv1.HolidayNoticeImported{
		Year: 2027, Text: "year 2027\nsource test\n元旦 2027-01-01..2027-01-03\n",
	}}}
	for range 2 { // a replay changes nothing
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ApplyScheduling(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	jan1 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := s.Calendar().Day(jan1); d.Kind != calendar.Holiday {
		t.Errorf("after the event: %+v", d)
	}
	restarted, err := New(s.Store, directory.Demo())
	if err != nil {
		t.Fatal(err)
	}
	if d := restarted.Calendar().Day(jan1); !d.Provisional {
		t.Fatal("a new server knew the notice before loading")
	}
	if err := restarted.LoadCalendar(ctx); err != nil {
		t.Fatal(err)
	}
	if d := restarted.Calendar().Day(jan1); d.Kind != calendar.Holiday || d.Provisional {
		t.Errorf("after a restart: %+v", d)
	}
}

// TestDemoClock: a call made at a demo time (a demonstration load
// backdating its moves) records the move at that time, and the periods
// that depend on "now" count from it; a call without one uses the clock.
func TestDemoClock(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
	const name = "cases/330421-2026-000001"
	at := time.Date(2026, 2, 10, 9, 30, 0, 0, calendar.China)
	if _, err := referUp(democlock.With(authtest.As(t, "demo-dayun"), at), s, name); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer("offices/330421.zjj")(authtest.As(t, "demo-bureau"), s, name); err != nil {
		t.Fatal(err)
	}
	h, err := s.ListCaseHistory(authtest.As(t, "demo-bureau"), &assignmentv1.ListCaseHistoryRequest{Parent: name})
	if err != nil || len(h.GetEntries()) != 3 {
		t.Fatalf("history: %v, %v", h, err)
	}
	if got := h.GetEntries()[1].GetTime().AsTime(); !got.Equal(at) {
		t.Errorf("the referral is recorded at %v, want the demo time %v", got, at)
	}
	if got := h.GetEntries()[2].GetTime().AsTime(); time.Since(got).Abs() > time.Minute {
		t.Errorf("the transfer without a demo time is recorded at %v, want about now", got)
	}
}
