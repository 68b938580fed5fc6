package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// actor is one caller of the walk.
type actor struct {
	name string
	ctx  context.Context
}

// call makes action on the case as it stands, with a request that is
// valid whatever the case (a target other than the holder, a date in the
// future, the opposite urgency); nil when no valid request exists.
func call(s *Server, c *assignmentv1.Case, a lifecycle.Action, now time.Time) func(ctx context.Context) (*assignmentv1.Case, error) {
	n := c.GetName()
	due := now.AddDate(0, 0, 20).In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	// otherDept is a department that does not hold the case (nor, with
	// notCo, co-handle it).
	otherDept := func(notCo ...bool) string {
		for _, d := range []string{"offices/330421.zjj", "offices/330421.rsj", "offices/330421.zrzyj"} {
			if d != c.GetHolderOffice() && (len(notCo) == 0 || !slices.Contains(c.GetCoHandlers(), d)) {
				return d
			}
		}
		return ""
	}
	type resp interface{ GetCase() *assignmentv1.Case }
	wrap := func(f func(ctx context.Context) (resp, error)) func(ctx context.Context) (*assignmentv1.Case, error) {
		return func(ctx context.Context) (*assignmentv1.Case, error) {
			r, err := f(ctx)
			if err != nil {
				return nil, err
			}
			return r.GetCase(), nil
		}
	}
	switch a {
	case lifecycle.ReferUp:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.ReferCaseUp(ctx, &assignmentv1.ReferCaseUpRequest{Name: n, Reason: "镇级无法协调"})
		})
	case lifecycle.Route:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.RouteCase(ctx, &assignmentv1.RouteCaseRequest{Name: n, ToOffice: otherDept(), Reason: "按类别转送"})
		})
	case lifecycle.Transfer:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.TransferCase(ctx, &assignmentv1.TransferCaseRequest{Name: n, ToOffice: otherDept(), Reason: "属其职责"})
		})
	case lifecycle.SignFor:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.SignForCase(ctx, &assignmentv1.SignForCaseRequest{Name: n})
		})
	case lifecycle.SendBack:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.SendBackCase(ctx, &assignmentv1.SendBackCaseRequest{Name: n, Reason: "不属本单位职责"})
		})
	case lifecycle.AcceptReturn:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.AcceptCaseReturn(ctx, &assignmentv1.AcceptCaseReturnRequest{Name: n})
		})
	case lifecycle.Accept:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.AcceptCase(ctx, &assignmentv1.AcceptCaseRequest{Name: n})
		})
	case lifecycle.Decline:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.DeclineCase(ctx, &assignmentv1.DeclineCaseRequest{Name: n, Notice: "请通过诉讼途径解决", Channel: assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_LITIGATION})
		})
	case lifecycle.AssignDown:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.AssignCaseDown(ctx, &assignmentv1.AssignCaseDownRequest{Name: n, ToOffice: "offices/330421102", Instructions: "请核实处理", ReportDue: due})
		})
	case lifecycle.Report:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.ReportCase(ctx, &assignmentv1.ReportCaseRequest{Name: n, Text: "已办结"})
		})
	case lifecycle.Extend:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.ExtendCase(ctx, &assignmentv1.ExtendCaseRequest{Name: n, Days: 10, Reason: "情况复杂", ApprovedBy: "局长"})
		})
	case lifecycle.Answer:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.AnswerCase(ctx, &assignmentv1.AnswerCaseRequest{Name: n, Outcome: assignmentv1.AnswerOutcome_ANSWER_OUTCOME_SUPPORT, Text: "支持"})
		})
	case lifecycle.Evaluate:
		rating := assignmentv1.Rating_RATING_UNSATISFIED
		if now.Unix()%2 == 0 {
			rating = assignmentv1.Rating_RATING_SATISFIED
		}
		return wrap(func(ctx context.Context) (resp, error) {
			return s.EvaluateCase(ctx, &assignmentv1.EvaluateCaseRequest{Name: n, Rating: rating})
		})
	case lifecycle.RequestReview:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.RequestCaseReview(ctx, &assignmentv1.RequestCaseReviewRequest{Name: n, Reason: "不服"})
		})
	case lifecycle.Review:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.ReviewCase(ctx, &assignmentv1.ReviewCaseRequest{Name: n, Outcome: assignmentv1.AnswerOutcome_ANSWER_OUTCOME_REJECT, Text: "维持"})
		})
	case lifecycle.RequestReReview:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.RequestCaseReReview(ctx, &assignmentv1.RequestCaseReReviewRequest{Name: n, Reason: "仍不服"})
		})
	case lifecycle.ReReview:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.ReReviewCase(ctx, &assignmentv1.ReReviewCaseRequest{Name: n, Outcome: assignmentv1.AnswerOutcome_ANSWER_OUTCOME_REJECT, Text: "维持"})
		})
	case lifecycle.StartHearing:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.StartCaseHearing(ctx, &assignmentv1.StartCaseHearingRequest{Name: n, Note: "组织听证"})
		})
	case lifecycle.EndHearing:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.EndCaseHearing(ctx, &assignmentv1.EndCaseHearingRequest{Name: n, Note: "听证结束"})
		})
	case lifecycle.Close:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.CloseCase(ctx, &assignmentv1.CloseCaseRequest{Name: n})
		})
	case lifecycle.AddCoHandler:
		co := otherDept(true)
		if co == "" {
			return nil
		}
		return wrap(func(ctx context.Context) (resp, error) {
			return s.AddCaseCoHandler(ctx, &assignmentv1.AddCaseCoHandlerRequest{Name: n, Office: co, Reason: "需协办"})
		})
	case lifecycle.Contribute:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.ContributeToCase(ctx, &assignmentv1.ContributeToCaseRequest{Name: n, Text: "核查意见"})
		})
	case lifecycle.ReturnForRework:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.ReturnCaseForRework(ctx, &assignmentv1.ReturnCaseForReworkRequest{Name: n, Reason: "答复不充分"})
		})
	case lifecycle.SetUrgency:
		urgent := !c.GetUrgent()
		return wrap(func(ctx context.Context) (resp, error) {
			return s.SetCaseUrgency(ctx, &assignmentv1.SetCaseUrgencyRequest{Name: n, Urgent: urgent, Reason: "群体性"})
		})
	case lifecycle.TakeLead:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.LeadCase(ctx, &assignmentv1.LeadCaseRequest{Name: n, Leader: "张伟", LeaderTitle: "副县长", Person: "李明",
				Unit: "offices/330421.zjj", DueDate: due, LeaderAccount: "accounts/zhang.wei"})
		})
	case lifecycle.Reopen:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.ReopenCase(ctx, &assignmentv1.ReopenCaseRequest{Name: n, Reason: "属新的信访事项，应予受理"})
		})
	case lifecycle.RecordProgress:
		return wrap(func(ctx context.Context) (resp, error) {
			return s.RecordCaseProgress(ctx, &assignmentv1.RecordCaseProgressRequest{Name: n, Steps: "走访", Progress: "已协调"})
		})
	}
	panic(fmt.Sprintf("no request for %v", a))
}

// TestOfferedIsAllowed walks random paths through the lifecycle. At every
// step each caller (every role, every kind of office, involved or not)
// reads the moves it is offered; then one caller makes one move, an
// offered one mostly. An offered move must succeed; a move not offered
// must be refused with a reason code, and change nothing.
func TestOfferedIsAllowed(t *testing.T) {
	t.Parallel()
	actors := []actor{
		{"bureau clerk", authtest.As(t, "demo-bureau")},
		{"bureau administrator", authtest.AsAccount(t, "330421.xfj", "admin", "admin")},
		{"bureau leader in charge", authtest.AsAccount(t, "330421.xfj", "leader", "zhang.wei")},
		{"registering township", authtest.As(t, "demo-dayun")},
		{"another township", authtest.As(t, "demo-xitang")},
		{"department zjj", authtest.As(t, "demo-zjj")},
		{"department rsj", authtest.As(t, "demo-rsj")},
		{"department zrzyj", authtest.As(t, "demo-zrzyj")},
		{"a township's system", authtest.AsAccount(t, "330421102", "system", "dayun-xfxt")},
		{"the prefecture", authtest.As(t, "demo-jiaxing")},
	}
	offered, refused := map[lifecycle.Action]int{}, map[string]int{}
	for walk := range 16 {
		s, clk := newServer(t)
		class := intakev1.CaseClass_CASE_CLASS_CLAIM
		if walk%4 == 3 {
			class = intakev1.CaseClass_CASE_CLASS_SUGGESTION
		}
		number := fmt.Sprintf("330421-2026-%06d", walk+1)
		register(t, s, reg{number: number, class: class})
		rng := rand.New(rand.NewPCG(uint64(walk), 2026))
		for step := range 40 {
			wait := time.Duration(rng.IntN(36)) * time.Hour
			if rng.IntN(8) == 0 {
				wait = time.Duration(5+rng.IntN(30)) * 24 * time.Hour // past a period, now and then
			}
			clk.advance(wait)
			// What each caller is offered, and the case as the bureau sees it.
			offers := map[string][]lifecycle.Action{}
			var c *assignmentv1.Case
			for _, a := range actors {
				h, err := s.ListCaseHistory(a.ctx, &assignmentv1.ListCaseHistoryRequest{Parent: "cases/" + number})
				switch {
				case rpcerr.Code(err) == codes.NotFound:
					continue // nothing is offered to whoever may not see the case
				case err != nil:
					t.Fatalf("walk %d step %d: %s reads the case: %v", walk, step, a.name, err)
				}
				offers[a.name] = h.GetCase().GetAvailableActions()
				if a.name == "bureau clerk" {
					c = h.GetCase()
				}
			}
			// One move: three times in four an offered one, a move of the
			// state where there is one; else any move by anyone.
			type pick struct {
				a      actor
				action lifecycle.Action
			}
			var moving, any []pick
			for _, a := range actors {
				for _, x := range offers[a.name] {
					any = append(any, pick{a, x})
					if lifecycle.Rules[x].To != lifecycle.Same || x == lifecycle.StartHearing || x == lifecycle.EndHearing {
						moving = append(moving, pick{a, x})
					}
				}
			}
			p := pick{actors[rng.IntN(len(actors))], orderedActions[1+rng.IntN(len(orderedActions)-1)]}
			switch r := rng.IntN(8); {
			case r < 5 && len(moving) > 0:
				p = moving[rng.IntN(len(moving))]
			case r < 6 && len(any) > 0:
				p = any[rng.IntN(len(any))]
			}
			a, action := p.a, p.action
			do := call(s, c, action, clk.Now())
			if do == nil {
				continue
			}
			got, err := do(a.ctx)
			where := fmt.Sprintf("walk %d step %d: %s %v on a case %v", walk, step, a.name, action, c.GetState())
			if slices.Contains(offers[a.name], action) {
				offered[action]++
				if err != nil {
					t.Fatalf("%s: offered, then refused: %v", where, err)
				}
				if want := availableFor(t, s, a.ctx, number); !slices.Equal(got.GetAvailableActions(), want) {
					t.Errorf("%s: the move's answer offers %v, a read of the case %v", where, got.GetAvailableActions(), want)
				}
				continue
			}
			if err == nil {
				t.Fatalf("%s: not offered (%v), yet allowed", where, offers[a.name])
			}
			st := rpcerr.Status(err)
			reason := ""
			for _, d := range st.Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					reason = info.GetReason()
				}
			}
			if !slices.Contains([]codes.Code{codes.FailedPrecondition, codes.PermissionDenied, codes.NotFound}, st.Code()) || reason == "" {
				t.Fatalf("%s: refused with %v %q, want a refusal with its reason code", where, st.Code(), reason)
			}
			refused[reason]++
			if after := bureauView(t, s, number); after.GetEtag() != c.GetEtag() {
				t.Fatalf("%s: a refused move changed the case (etag %s → %s)", where, c.GetEtag(), after.GetEtag())
			}
		}
	}
	// The walks went far enough to mean something.
	for _, a := range []lifecycle.Action{lifecycle.Route, lifecycle.SignFor, lifecycle.SendBack, lifecycle.Accept, lifecycle.Answer,
		lifecycle.RequestReview, lifecycle.Review, lifecycle.RequestReReview, lifecycle.StartHearing, lifecycle.ReReview, lifecycle.Decline, lifecycle.Reopen} {
		if offered[a] == 0 {
			t.Errorf("no walk made %v: %v", a, offered)
		}
	}
	for _, r := range []string{"CASE_STATE_CONFLICT", "NOT_HOLDER", "OFFICE_KIND_NOT_ALLOWED", "CASE_NOT_FOUND"} {
		if refused[r] == 0 {
			t.Errorf("no walk was refused %s: %v", r, refused)
		}
	}
	t.Logf("offered moves made: %v; refusals: %v", offered, refused)
}

func availableFor(t *testing.T, s *Server, ctx context.Context, number string) []assignmentv1.Action {
	t.Helper()
	h, err := s.ListCaseHistory(ctx, &assignmentv1.ListCaseHistoryRequest{Parent: "cases/" + number})
	if err != nil {
		return nil
	}
	return h.GetCase().GetAvailableActions()
}

func bureauView(t *testing.T, s *Server, number string) *assignmentv1.Case {
	t.Helper()
	h, err := s.ListCaseHistory(authtest.As(t, "demo-bureau"), &assignmentv1.ListCaseHistoryRequest{Parent: "cases/" + number})
	if err != nil {
		t.Fatal(err)
	}
	return h.GetCase()
}

// TestSignForCarriesReceipt: a sign-for's event tells scheduling when the
// organ received the case, the transfer, from which its acceptance period
// runs (信访工作条例 第二十三条).
func TestSignForCarriesReceipt(t *testing.T) {
	t.Parallel()
	s, clk := registered(t)
	if _, err := referUp(authtest.As(t, "demo-dayun"), s, caseName); err != nil {
		t.Fatal(err)
	}
	transferred := clk.Now()
	if _, err := transfer("offices/330421.zjj")(authtest.As(t, "demo-bureau"), s, caseName); err != nil {
		t.Fatal(err)
	}
	clk.advance(50 * time.Hour)
	if _, err := s.SignForCase(authtest.As(t, "demo-zjj"), &assignmentv1.SignForCaseRequest{Name: caseName}); err != nil {
		t.Fatal(err)
	}
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1].GetCaseMoved()
	if last.GetEntry().GetAction() != assignmentv1.Action_ACTION_SIGN_FOR || !last.GetReceiveTime().AsTime().Equal(transferred) {
		t.Errorf("the sign-for's event: %v, want receive_time %v", last, transferred)
	}
}

// TestBlankReasons: a reason of ideographic or zero-width spaces is none.
func TestBlankReasons(t *testing.T) {
	t.Parallel()
	s, _ := registered(t)
	for _, reason := range []string{"", "   ", "\u3000\u3000", "\u200b\ufeff\u2060", "\u3000\u200b "} {
		_, err := s.ReferCaseUp(authtest.As(t, "demo-dayun"), &assignmentv1.ReferCaseUpRequest{Name: caseName, Reason: reason})
		if rpcerr.Code(err) != codes.InvalidArgument || !slices.Equal(rpcerr.Fields(err), []string{"reason"}) {
			t.Errorf("reason %+q: %v, want INVALID_ARGUMENT on reason", reason, err)
		}
	}
}

// TestEscalationInTheBureausInbox: the send-back that reaches the rule
// set's limit, counted across organs, puts the case in the bureau's queue
// with the notice of who refused it.
func TestEscalationInTheBureausInbox(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	register(t, s, reg{number: "330421-2026-000001", office: "330421.zjj"})
	for _, to := range []string{"rsj", "zrzyj", "mzj"} {
		if _, err := transfer("offices/330421."+to)(authtest.As(t, "demo-zjj"), s, caseName); err != nil {
			t.Fatal(err)
		}
		if _, err := sendBack(authtest.As(t, "demo-"+to), s, caseName); err != nil {
			t.Fatal(err)
		}
	}
	q, err := s.ListOfficeQueue(authtest.As(t, "demo-bureau"), &assignmentv1.ListOfficeQueueRequest{Parent: "offices/330421.xfj"})
	if err != nil || len(q.GetCases()) != 1 {
		t.Fatalf("the bureau's queue: %v, %v", q, err)
	}
	c := q.GetCases()[0]
	for _, want := range []string{"第3次退回", "嘉善县人力资源和社会保障局", "嘉善县民政局", "提交嘉善县信访局决定"} {
		if !strings.Contains(c.GetEscalation(), want) {
			t.Errorf("the notice %q lacks %q", c.GetEscalation(), want)
		}
	}
	if !slices.Contains(c.GetAvailableActions(), assignmentv1.Action_ACTION_TRANSFER) {
		t.Errorf("the bureau may not act on it: %v", c.GetAvailableActions())
	}
}
