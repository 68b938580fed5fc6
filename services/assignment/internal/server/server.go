// Package server implements tongban.assignment.v1.AssignmentService: the
// transitions of a case, its history and the offices' queues, and the
// consumer that takes registered cases from intake's feed.
package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/caseversion"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/county/ruleset"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/precondition"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/platform/textnorm"
	"github.com/tongban/tongban/services/platform/tracing"
)

// Limits on free text.
const (
	maxReason = 2000
	maxAnswer = 20000
)

// Server implements AssignmentService.
type Server struct {
	assignmentv1.UnimplementedAssignmentServiceServer
	Store *store.Store
	Dir   *directory.Directory
	Rules *ruleset.RuleSet
	// cal is the official calendar with the notices loaded at run time.
	cal atomic.Pointer[calendar.Calendar]
	// SendBackLimit is the send-back of a case, counted across every organ,
	// that sends it to the petition bureau instead of back (the rule set's).
	SendBackLimit int
	// Now is the clock of periods (injectable for tests).
	Now func() time.Time
	// Subjects reads subjects from intake for case cards; nil leaves them
	// empty.
	Subjects Subjects
}

// New returns a server over st and dir, with the county's rule set.
func New(st *store.Store, dir *directory.Directory) (*Server, error) {
	rules, err := ruleset.Get(dir.County.RuleSet)
	if err != nil {
		return nil, err
	}
	s := &Server{Store: st, Dir: dir, Rules: rules, SendBackLimit: rules.SendBackLimit, Now: now}
	s.cal.Store(calendar.Official())
	return s, nil
}

// Calendar is the calendar the periods are computed on.
func (s *Server) Calendar() *calendar.Calendar { return s.cal.Load() }

// LoadCalendar adds the holiday notices loaded at run time (kept from
// scheduling's feed) to the official calendar.
func (s *Server) LoadCalendar(ctx context.Context) error {
	texts, err := s.Store.HolidayNotices(ctx, s.Store.Pool)
	if err != nil {
		return err
	}
	c, err := calendar.Build(texts, nil)
	if err != nil {
		return err
	}
	s.cal.Store(c)
	return nil
}

// move is one transition request, whatever its method.
type move struct {
	method    string
	action    lifecycle.Action
	req       proto.Message
	name      string
	etag      string
	requestID string
	note      string
	// apply checks what the state machine cannot (targets, periods, what
	// the case already holds) and changes the case beyond its state: holder,
	// pending organ, documents. It may rewrite the entry (e.g. a send-back
	// that becomes an escalation) and the state.
	apply func(ctx context.Context, tx pgx.Tx, c *store.Case, caller auth.Caller, e *store.Entry) error
}

func refuse(reason, msg string, kv ...string) error {
	return rpcerr.New(codes.FailedPrecondition, reason, msg, kv...)
}

// target checks the organ a case is routed, transferred or assigned to.
func (s *Server) target(v *rpcerr.Violations, field, name string, kinds ...directory.Kind) directory.Office {
	o, ok := s.Dir.OfficeByResource(name)
	switch {
	case name == "":
		v.Add(field, `is required, e.g. "offices/330421.zjj"`)
	case !ok:
		v.Add(field, "is not an office of county "+s.Dir.County.Code)
	case !slices.Contains(kinds, o.Kind):
		v.Add(field, "must be a "+string(kinds[0])+" office, not "+o.Name)
	case o.Closed:
		v.Add(field, o.Name+" is closed and takes no new cases")
	}
	return o
}

// handOver checks that c may go to o at all, and makes o the organ the
// case waits on (首办负责: the holder stays responsible until o signs for it).
func (s *Server) handOver(c *store.Case, e *store.Entry, o directory.Office, now time.Time) error {
	switch {
	case o.ID == c.Holder:
		return refuse("TRANSFER_TO_SELF", "the case is already held by "+o.Name, "to_office", o.Resource())
	case o.ID == c.Accused:
		return refuse("ACCUSED_UNIT", "an accusation (检举控告) is never sent to the unit it accuses, nor its material or the accuser's identity (信访工作条例 第三十条第三款)",
			"to_office", o.Resource())
	case c.LitigationRelated && !o.Has(directory.DutyPoliticsLaw):
		return refuse("NOT_POLITICS_LAW_ORGAN", "a 涉法涉诉 matter goes only to a 政法 organ (court, procuratorate, police, justice bureau; 信访工作条例 第二十二条第二款), not to "+o.Name,
			"to_office", o.Resource())
	}
	c.Pending, c.TransferTime, e.Target = o.ID, now, o.ID
	return nil
}

// RouteCase is the bureau's routing decision by class.
func (s *Server) RouteCase(ctx context.Context, req *assignmentv1.RouteCaseRequest) (*assignmentv1.RouteCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	var to directory.Office
	if req.GetToOffice() != "" {
		to = s.target(&v, "to_office", req.GetToOffice(), directory.Department)
	}
	c, err := s.transition(ctx, &v, move{
		method: "RouteCase", action: lifecycle.Route, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			accusation := c.Class == int16(intakev1.CaseClass_CASE_CLASS_ACCUSATION)
			if to.ID == "" {
				organs := s.Dir.WithDuty(directory.DutyDiscipline)
				if !accusation || len(organs) == 0 {
					return rpcerr.New(codes.InvalidArgument, "INVALID_ARGUMENT", "to_office is required (only an accusation goes to the discipline organ by default)", "field", "to_office")
				}
				to = organs[0]
			}
			c.LitigationRelated = req.GetLitigationRelated()
			return s.handOver(c, e, to, s.now(ctx))
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.RouteCaseResponse{Case: c}, nil
}

// ReferCaseUp hands a township's case to the county petition bureau.
func (s *Server) ReferCaseUp(ctx context.Context, req *assignmentv1.ReferCaseUpRequest) (*assignmentv1.ReferCaseUpResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	c, err := s.transition(ctx, &v, move{
		method: "ReferCaseUp", action: lifecycle.ReferUp, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.Holder = s.Dir.Bureau().ID
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.ReferCaseUpResponse{Case: c}, nil
}

// TransferCase hands a case to another organ, which must sign for it.
func (s *Server) TransferCase(ctx context.Context, req *assignmentv1.TransferCaseRequest) (*assignmentv1.TransferCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	to := s.target(&v, "to_office", req.GetToOffice(), directory.Department)
	c, err := s.transition(ctx, &v, move{
		method: "TransferCase", action: lifecycle.Transfer, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			return s.handOver(c, e, to, s.now(ctx))
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.TransferCaseResponse{Case: c}, nil
}

// SignForCase makes the pending organ the holder.
func (s *Server) SignForCase(ctx context.Context, req *assignmentv1.SignForCaseRequest) (*assignmentv1.SignForCaseResponse, error) {
	var v rpcerr.Violations
	c, err := s.transition(ctx, &v, move{
		method: "SignForCase", action: lifecycle.SignFor, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, e *store.Entry) error {
			e.Received = c.TransferTime // the acceptance period runs from receipt, not from signing
			c.Holder, c.Pending, c.TransferTime = caller.Office.ID, "", time.Time{}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.SignForCaseResponse{Case: c}, nil
}

// SendBackCase records the pending organ's objection; a case that bounced
// too often between the same two offices goes to the bureau instead.
func (s *Server) SendBackCase(ctx context.Context, req *assignmentv1.SendBackCaseRequest) (*assignmentv1.SendBackCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	c, err := s.transition(ctx, &v, move{
		method: "SendBackCase", action: lifecycle.SendBack, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetReason(),
		apply: func(ctx context.Context, tx pgx.Tx, c *store.Case, caller auth.Caller, e *store.Entry) error {
			e.Target = c.Holder
			refusals, err := s.Store.SendBacks(ctx, tx, c.Number)
			if err != nil {
				return err
			}
			if n := len(refusals) + 1; n >= s.SendBackLimit {
				// 推诿扯皮 stops here: the bureau decides, told why in its inbox.
				bureau := s.Dir.Bureau()
				var who []string
				for _, o := range append(refusals, caller.Office.ID) {
					if d, ok := s.Dir.Office(o); ok && !slices.Contains(who, d.Name) {
						who = append(who, d.Name)
					}
				}
				e.Action = int16(lifecycle.Escalate)
				e.Note = "第" + strconv.Itoa(n) + "次退回（" + strings.Join(who, "、") + "），提交" + bureau.Name + "决定：" + req.GetReason()
				c.Docs.Escalation = e.Note
				c.State, c.Holder, c.Pending, c.TransferTime = int16(lifecycle.Registered), bureau.ID, "", time.Time{}
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.SendBackCaseResponse{Case: c}, nil
}

// AcceptCaseReturn takes a case back after an objection.
func (s *Server) AcceptCaseReturn(ctx context.Context, req *assignmentv1.AcceptCaseReturnRequest) (*assignmentv1.AcceptCaseReturnResponse, error) {
	var v rpcerr.Violations
	optionalText(&v, "note", req.GetNote(), maxReason)
	c, err := s.transition(ctx, &v, move{
		method: "AcceptCaseReturn", action: lifecycle.AcceptReturn, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetNote(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			e.Target = c.Pending
			c.Pending, c.TransferTime = "", time.Time{}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.AcceptCaseReturnResponse{Case: c}, nil
}

// AcceptCase starts handling.
func (s *Server) AcceptCase(ctx context.Context, req *assignmentv1.AcceptCaseRequest) (*assignmentv1.AcceptCaseResponse, error) {
	var v rpcerr.Violations
	optionalText(&v, "notice", req.GetNotice(), maxAnswer)
	c, err := s.transition(ctx, &v, move{
		method: "AcceptCase", action: lifecycle.Accept, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetNotice()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.AcceptTime = s.now(ctx)
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.AcceptCaseResponse{Case: c}, nil
}

// DeclineCase ends a case with a notice naming the statutory channel.
func (s *Server) DeclineCase(ctx context.Context, req *assignmentv1.DeclineCaseRequest) (*assignmentv1.DeclineCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "notice", req.GetNotice(), maxAnswer)
	switch ch := req.GetChannel(); {
	case ch == assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_UNSPECIFIED:
		v.Add("channel", "is required: the statutory channel the petitioner is directed to (STATUTORY_CHANNEL_LITIGATION, …)")
	case assignmentv1.StatutoryChannel_name[int32(ch)] == "":
		v.Add("channel", "is not a known channel")
	}
	c, err := s.transition(ctx, &v, move{
		method: "DeclineCase", action: lifecycle.Decline, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetNotice()),
		apply: func(ctx context.Context, tx pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			d := &assignmentv1.Decline{Channel: req.GetChannel(), Notice: req.GetNotice(), Office: caller.Office.Resource()}
			if req.GetChannel() == assignmentv1.StatutoryChannel_STATUTORY_CHANNEL_FINALLY_CLOSED {
				// The clerk's decision that this is the same matter, on the
				// same facts and reasons, as one finally closed.
				final, err := s.repeatsFinal(ctx, tx, c)
				if err != nil {
					return err
				}
				if !final {
					return refuse("NOT_A_REPEAT_OF_FINAL", "STATUTORY_CHANNEL_FINALLY_CLOSED declines a repeat of a matter finally closed after re-review "+
						"(信访工作条例 第三十六条第三款); this case repeats none: link it to the final case first (:linkRepeat), or name another channel")
				}
				d.FinalCase = names.Case(c.RepeatOf)
			}
			c.Docs.Decline = d
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.DeclineCaseResponse{Case: c}, nil
}

// AssignCaseDown hands a case to a township with a deadline for its report.
func (s *Server) AssignCaseDown(ctx context.Context, req *assignmentv1.AssignCaseDownRequest) (*assignmentv1.AssignCaseDownResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "instructions", req.GetInstructions(), maxAnswer)
	to := s.target(&v, "to_office", req.GetToOffice(), directory.Township)
	due := s.futureDate(&v, "report_due", req.GetReportDue(), s.now(ctx))
	c, err := s.transition(ctx, &v, move{
		method: "AssignCaseDown", action: lifecycle.AssignDown, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetInstructions()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, e *store.Entry) error {
			if to.ID == c.Accused {
				return refuse("ACCUSED_UNIT", "an accusation (检举控告) is never sent to the unit it accuses (信访工作条例 第三十条第三款)", "to_office", to.Resource())
			}
			c.Holder, e.Target = to.ID, to.ID
			c.Docs.Assignment = &assignmentv1.Assignment{
				AssignedBy: caller.Office.Resource(), Instructions: req.GetInstructions(), ReportDue: timestamppb.New(due),
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.AssignCaseDownResponse{Case: c}, nil
}

// ReportCase files the township's report on an assigned case.
func (s *Server) ReportCase(ctx context.Context, req *assignmentv1.ReportCaseRequest) (*assignmentv1.ReportCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "text", req.GetText(), maxAnswer)
	c, err := s.transition(ctx, &v, move{
		method: "ReportCase", action: lifecycle.Report, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			a := c.Docs.GetAssignment()
			a.Report, a.ReportTime = req.GetText(), timestamppb.New(s.now(ctx))
			e.Target, _ = names.OfficeID(a.GetAssignedBy())
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.ReportCaseResponse{Case: c}, nil
}

// ExtendCase extends the handling period once.
func (s *Server) ExtendCase(ctx context.Context, req *assignmentv1.ExtendCaseRequest) (*assignmentv1.ExtendCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	requireText(&v, "approved_by", req.GetApprovedBy(), 100)
	if d := req.GetDays(); d < 1 || int(d) > s.Rules.ExtensionDays {
		v.Add("days", "must be between 1 and "+strconv.Itoa(s.Rules.ExtensionDays)+" ("+s.Rules.HandlingSource+")")
	}
	c, err := s.transition(ctx, &v, move{
		method: "ExtendCase", action: lifecycle.Extend, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(),
		note: strconv.Itoa(int(req.GetDays())) + "日，" + req.GetApprovedBy() + "批准：" + req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.Docs.Extension = &assignmentv1.Extension{
				Days: req.GetDays(), Reason: req.GetReason(), ApprovedBy: req.GetApprovedBy(), ExtendTime: timestamppb.New(s.now(ctx)),
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.ExtendCaseResponse{Case: c}, nil
}

// AnswerCase records the holder's written answer.
func (s *Server) AnswerCase(ctx context.Context, req *assignmentv1.AnswerCaseRequest) (*assignmentv1.AnswerCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "text", req.GetText(), maxAnswer)
	optionalText(&v, "legal_basis", req.GetLegalBasis(), maxAnswer)
	agreement := req.GetForm() == assignmentv1.AnswerForm_ANSWER_FORM_AGREEMENT
	if assignmentv1.AnswerForm_name[int32(req.GetForm())] == "" {
		v.Add("form", "is not a known form")
	}
	if o := req.GetOutcome(); assignmentv1.AnswerOutcome_name[int32(o)] == "" || (o == assignmentv1.AnswerOutcome_ANSWER_OUTCOME_UNSPECIFIED && !agreement) {
		v.Add("outcome", "is required: one of ANSWER_OUTCOME_SUPPORT, ANSWER_OUTCOME_EXPLAIN, ANSWER_OUTCOME_REJECT")
	}
	num, _ := names.CaseNumber(req.GetName())
	for i, a := range req.GetAttachments() {
		if !strings.HasPrefix(a, names.Case(num)+"/attachments/") {
			v.Add("attachments["+strconv.Itoa(i)+"]", `must name an attachment of this case, "`+names.Case(num)+`/attachments/{n}"`)
		}
	}
	form := req.GetForm()
	if form == assignmentv1.AnswerForm_ANSWER_FORM_UNSPECIFIED {
		form = assignmentv1.AnswerForm_ANSWER_FORM_OPINION
	}
	c, err := s.transition(ctx, &v, move{
		method: "AnswerCase", action: lifecycle.Answer, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			now := s.now(ctx)
			c.AnswerTime = now
			c.Docs.Answer = &assignmentv1.Answer{
				Outcome: req.GetOutcome(), Text: req.GetText(), Office: caller.Office.Resource(), AnswerTime: timestamppb.New(now),
				Form: form, LegalBasis: req.GetLegalBasis(), Attachments: req.GetAttachments(),
			}
			s.openNextInstance(c, now)
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.AnswerCaseResponse{Case: c}, nil
}

// reviewable says whether a case's class has the review chain: only a claim
// handled as a petition does (信访工作条例 第三十一条第六项, 第三十五条).
func reviewable(c *store.Case) bool { return c.Class == int16(intakev1.CaseClass_CASE_CLASS_CLAIM) }

// openNextInstance starts the petitioner's period for asking the next
// instance, counted from the decision given at now.
func (s *Server) openNextInstance(c *store.Case, now time.Time) {
	c.NextInstanceDue = time.Time{}
	if reviewable(c) {
		c.NextInstanceDue, _ = s.Calendar().AddDays(now, s.Rules.NextInstanceDays, s.Rules.RollOver)
	}
}

// EvaluateCase records the petitioner's rating.
func (s *Server) EvaluateCase(ctx context.Context, req *assignmentv1.EvaluateCaseRequest) (*assignmentv1.EvaluateCaseResponse, error) {
	var v rpcerr.Violations
	optionalText(&v, "comment", req.GetComment(), maxReason)
	if r := req.GetRating(); r == assignmentv1.Rating_RATING_UNSPECIFIED || assignmentv1.Rating_name[int32(r)] == "" {
		v.Add("rating", "is required: one of RATING_SATISFIED, RATING_BASICALLY_SATISFIED, RATING_UNSATISFIED")
	}
	c, err := s.transition(ctx, &v, move{
		method: "EvaluateCase", action: lifecycle.Evaluate, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetRating().String(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			c.Docs.Evaluation = &assignmentv1.Evaluation{
				Rating: req.GetRating(), Comment: req.GetComment(), Office: caller.Office.Resource(), EvaluateTime: timestamppb.New(s.now(ctx)),
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.EvaluateCaseResponse{Case: c}, nil
}

// higher is the next higher organ of the office that decided: the county
// (through its petition bureau) above its townships and departments, the
// prefecture above the county.
func (s *Server) higher(resource string) (directory.Office, error) {
	o, ok := s.Dir.OfficeByResource(resource)
	if ok {
		switch o.Kind {
		case directory.Township, directory.Department:
			return s.Dir.Bureau(), nil
		case directory.Bureau:
			if p, ok := s.Dir.Prefecture(); ok {
				return p, nil
			}
		}
	}
	return directory.Office{}, refuse("NO_HIGHER_ORGAN", "the organ above "+resource+" is outside this system; the petitioner applies to it directly")
}

// nextInstance sends a request for review or re-review to the organ above
// the one that decided (the guard checked the period).
func (s *Server) nextInstance(ctx context.Context, c *store.Case, e *store.Entry, decidedBy, what string) error {
	up, err := s.nextInstanceOpen(ctx, c, decidedBy, what)
	if err != nil {
		return err
	}
	c.Holder, e.Target, c.NextInstanceDue = up.ID, up.ID, time.Time{}
	return nil
}

// RequestCaseReview sends the case to the organ above the one that answered.
func (s *Server) RequestCaseReview(ctx context.Context, req *assignmentv1.RequestCaseReviewRequest) (*assignmentv1.RequestCaseReviewResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxAnswer)
	c, err := s.transition(ctx, &v, move{
		method: "RequestCaseReview", action: lifecycle.RequestReview, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetReason()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			return s.nextInstance(ctx, c, e, c.Docs.GetAnswer().GetOffice(), "review (复查)")
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.RequestCaseReviewResponse{Case: c}, nil
}

// decision validates and builds a review or re-review decision.
func decision(v *rpcerr.Violations, outcome assignmentv1.AnswerOutcome, text, basis string) func(auth.Caller, time.Time) *assignmentv1.Answer {
	requireText(v, "text", text, maxAnswer)
	optionalText(v, "legal_basis", basis, maxAnswer)
	if outcome == assignmentv1.AnswerOutcome_ANSWER_OUTCOME_UNSPECIFIED || assignmentv1.AnswerOutcome_name[int32(outcome)] == "" {
		v.Add("outcome", "is required: one of ANSWER_OUTCOME_SUPPORT, ANSWER_OUTCOME_EXPLAIN, ANSWER_OUTCOME_REJECT")
	}
	return func(caller auth.Caller, now time.Time) *assignmentv1.Answer {
		return &assignmentv1.Answer{
			Outcome: outcome, Text: text, LegalBasis: basis, Office: caller.Office.Resource(),
			AnswerTime: timestamppb.New(now), Form: assignmentv1.AnswerForm_ANSWER_FORM_OPINION,
		}
	}
}

// ReviewCase records the review decision.
func (s *Server) ReviewCase(ctx context.Context, req *assignmentv1.ReviewCaseRequest) (*assignmentv1.ReviewCaseResponse, error) {
	var v rpcerr.Violations
	build := decision(&v, req.GetOutcome(), req.GetText(), req.GetLegalBasis())
	c, err := s.transition(ctx, &v, move{
		method: "ReviewCase", action: lifecycle.Review, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			now := s.now(ctx)
			c.Docs.Review = build(caller, now)
			s.openNextInstance(c, now)
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.ReviewCaseResponse{Case: c}, nil
}

// RequestCaseReReview sends the case to the organ above the reviewer.
func (s *Server) RequestCaseReReview(ctx context.Context, req *assignmentv1.RequestCaseReReviewRequest) (*assignmentv1.RequestCaseReReviewResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxAnswer)
	c, err := s.transition(ctx, &v, move{
		method: "RequestCaseReReview", action: lifecycle.RequestReReview, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetReason()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			return s.nextInstance(ctx, c, e, c.Docs.GetReview().GetOffice(), "re-review (复核)")
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.RequestCaseReReviewResponse{Case: c}, nil
}

// ReReviewCase records the re-review decision: the case is final.
func (s *Server) ReReviewCase(ctx context.Context, req *assignmentv1.ReReviewCaseRequest) (*assignmentv1.ReReviewCaseResponse, error) {
	var v rpcerr.Violations
	build := decision(&v, req.GetOutcome(), req.GetText(), req.GetLegalBasis())
	c, err := s.transition(ctx, &v, move{
		method: "ReReviewCase", action: lifecycle.ReReview, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			c.Docs.ReReview = build(caller, s.now(ctx))
			c.NextInstanceDue = time.Time{}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.ReReviewCaseResponse{Case: c}, nil
}

// StartCaseHearing records the start of a re-review hearing.
func (s *Server) StartCaseHearing(ctx context.Context, req *assignmentv1.StartCaseHearingRequest) (*assignmentv1.StartCaseHearingResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "note", req.GetNote(), maxReason)
	c, err := s.transition(ctx, &v, move{
		method: "StartCaseHearing", action: lifecycle.StartHearing, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetNote(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.Docs.HearingStartTime = timestamppb.New(s.now(ctx))
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.StartCaseHearingResponse{Case: c}, nil
}

// EndCaseHearing records the end of the hearing.
func (s *Server) EndCaseHearing(ctx context.Context, req *assignmentv1.EndCaseHearingRequest) (*assignmentv1.EndCaseHearingResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "note", req.GetNote(), maxReason)
	c, err := s.transition(ctx, &v, move{
		method: "EndCaseHearing", action: lifecycle.EndHearing, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetNote(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.Docs.HearingStartTime = nil
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.EndCaseHearingResponse{Case: c}, nil
}

// CloseCase closes a case once nothing more can be asked of it.
func (s *Server) CloseCase(ctx context.Context, req *assignmentv1.CloseCaseRequest) (*assignmentv1.CloseCaseResponse, error) {
	var v rpcerr.Violations
	optionalText(&v, "note", req.GetNote(), maxReason)
	c, err := s.transition(ctx, &v, move{
		method: "CloseCase", action: lifecycle.Close, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(), note: req.GetNote(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.NextInstanceDue = time.Time{}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.CloseCaseResponse{Case: c}, nil
}

// transition runs one move: validation (v already holds the method's own
// violations), then in one transaction the idempotency check, the case
// locked FOR UPDATE, visibility, etag, the state machine, the method's own
// checks and changes, the new row, the history entry and the CaseMoved
// event.
func (s *Server) transition(ctx context.Context, v *rpcerr.Violations, m move) (*assignmentv1.Case, error) {
	// The role first: a caller whose role may never do this learns nothing
	// of the case.
	caller, err := policy.Require(ctx, policy.VerbOf(m.action))
	if err != nil {
		return nil, err
	}
	num, ok := names.CaseNumber(m.name)
	if !ok {
		v.Add("name", names.CaseNumberHint)
	}
	rid := idempotency.Checked(ctx, m.requestID, v)
	m.etag = precondition.Etag(ctx, m.etag, v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := &assignmentv1.Case{}
	key := idempotency.Key{Scope: caller.Office.ID, Method: m.method, RequestID: rid}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		// The case is locked before anything is written, so the transaction
		// takes its id only once every earlier move of the case (and its
		// registration) has committed: assignment's feed is ordered by
		// transaction id, and a claim written first could take an id
		// before the registration's commit and list this move before it
		// (seen in the fault test: scheduling applied REGISTER after
		// REFER_UP and restarted the routing clock at the township).
		c, err := s.Store.Lock(ctx, tx, num)
		if err != nil {
			return err
		}
		_, err = idempotency.Do(ctx, tx, key, m.req, out, func() error {
			to, err := s.decide(ctx, caller, m.action, c)
			if errors.Is(err, policy.ErrNotVisible) {
				return store.ErrNotFound // the same answer as a missing case
			}
			if err := caseversion.Check(m.etag, version(c), caseversion.Moves); err != nil {
				return err
			}
			if err != nil {
				return stateError(err, m.action, c)
			}
			e := &store.Entry{
				CaseNumber: c.Number, Action: int16(m.action), ActorOffice: caller.Office.ID, ActorRole: caller.Role,
				FromState: c.State, FromOffice: c.Holder, Note: m.note, RequestID: rid,
			}
			c.State = int16(to)
			if err := m.apply(ctx, tx, c, caller, e); err != nil {
				return err
			}
			for _, o := range []string{c.Holder, c.Pending} {
				if o != "" && !slices.Contains(c.Involved, o) {
					c.Involved = append(c.Involved, o)
				}
			}
			if err := s.Store.Save(ctx, tx, c); err != nil {
				return err
			}
			e.Time, e.ToState, e.ToOffice = c.UpdateTime, c.State, c.Holder
			if t, ok := democlock.From(ctx); ok {
				e.Time = t // a demonstration load backdates the move
			}
			if err := s.Store.AddEntry(ctx, tx, e); err != nil {
				return err
			}
			if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Move, c.Number, rid, fmt.Sprintf("action=%s from=%s to=%s holder=%s",
				lifecycle.Action(e.Action), lifecycle.State(e.FromState), lifecycle.State(e.ToState), e.ToOffice))); err != nil {
				return err
			}
			proto.Reset(out)
			proto.Merge(out, s.withActions(ctx, caller, c))
			out.Etag = version(c).Echo(m.etag).Etag() // a correction the client made may not have reached us yet
			return publishMove(ctx, tx, c, e)
		})
		return err
	})
	if err != nil {
		return nil, rpcerr.ToStatus(err, "name", m.name)
	}
	return out, nil
}

// ListCaseHistory lists a case's moves, oldest first.
func (s *Server) ListCaseHistory(ctx context.Context, req *assignmentv1.ListCaseHistoryRequest) (*assignmentv1.ListCaseHistoryResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	num, ok := names.CaseNumber(req.GetParent())
	if !ok {
		v.Add("parent", names.CaseNumberHint)
	}
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "history/"+req.GetParent())
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.Store.Get(ctx, num)
	if err == nil && !policy.CanSeeCase(caller, c.County, c.Involved) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, rpcerr.ToStatus(err, "parent", req.GetParent())
	}
	entries, err := s.Store.History(ctx, num, page.Offset, page.Size+1)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	resp := &assignmentv1.ListCaseHistoryResponse{Case: s.withActions(ctx, caller, c)}
	entries, resp.NextPageToken = pagination.Trim(page, entries)
	for _, e := range entries {
		resp.Entries = append(resp.Entries, entryProto(e))
	}
	return resp, nil
}

// ListOfficeQueue lists the cases an office holds. An office lists its own
// queue; the county bureau may list any office's.
func (s *Server) ListOfficeQueue(ctx context.Context, req *assignmentv1.ListOfficeQueueRequest) (*assignmentv1.ListOfficeQueueResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	office, ok := s.Dir.OfficeByResource(req.GetParent())
	if !ok {
		v.Add("parent", `must name an office of the county, e.g. "offices/330421102"`)
	}
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "queue/"+req.GetParent())
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !policy.ForOffice(caller, office.ID) {
		return nil, rpcerr.New(codes.PermissionDenied, "OTHER_OFFICE_QUEUE", "an office may list only its own queue", "parent", req.GetParent())
	}
	cases, err := s.Store.Queue(ctx, office.ID, queued, page.Offset, page.Size+1)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	resp := &assignmentv1.ListOfficeQueueResponse{}
	cases, resp.NextPageToken = pagination.Trim(page, cases)
	for _, c := range cases {
		resp.Cases = append(resp.Cases, s.withActions(ctx, caller, c))
	}
	return resp, nil
}

// ApplyScheduling takes scheduling's events: a statutory clock
// (ClockChanged) is kept with its case, so the case shows its deadlines; a
// holiday notice loaded at run time joins the calendar of the periods.
func (s *Server) ApplyScheduling(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	if cc := ev.GetClockChanged(); cc != nil {
		if err := s.Store.PutDeadline(ctx, tx, ev.GetCaseNumber(), cc.GetDeadline(), cc.GetVersion()); err != nil {
			return err
		}
		if cc.GetRecomputedFrom() != nil {
			return s.deadlineMoved(ctx, tx, ev.GetCaseNumber(), cc)
		}
		return nil
	}
	if hn := ev.GetHolidayNoticeImported(); hn != nil {
		if err := s.Store.AddHolidayNotice(ctx, tx, int(hn.GetYear()), hn.GetText()); err != nil {
			return err
		}
		texts, err := s.Store.HolidayNotices(ctx, tx)
		if err != nil {
			return err
		}
		c, err := calendar.Build(texts, nil)
		if err != nil {
			return err
		}
		s.cal.Store(c) // a rollback of tx leaves it in force: the event is replayed and rebuilds the same
	}
	return nil
}

// clockNames name the clocks in a history entry.
var clockNames = map[assignmentv1.ClockKind]string{
	assignmentv1.ClockKind_CLOCK_KIND_ROUTING: "登记转送", assignmentv1.ClockKind_CLOCK_KIND_ACCEPTANCE: "受理告知",
	assignmentv1.ClockKind_CLOCK_KIND_OBJECTION: "异议", assignmentv1.ClockKind_CLOCK_KIND_HANDLING: "办理",
	assignmentv1.ClockKind_CLOCK_KIND_REVIEW_REQUEST: "申请复查", assignmentv1.ClockKind_CLOCK_KIND_REVIEW: "复查",
	assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW_REQUEST: "申请复核", assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW: "复核",
	assignmentv1.ClockKind_CLOCK_KIND_REPORT: "办结报告",
}

// deadlineMoved records in the case's history that a change of the
// calendar moved one of its deadlines: the date shown and enforced changed
// without anyone's move, and whoever relied on the old one can see why.
func (s *Server) deadlineMoved(ctx context.Context, tx pgx.Tx, number string, cc *eventsv1.ClockChanged) error {
	c, err := s.Store.Lock(ctx, tx, number)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	from := calendar.DateOf(cc.GetRecomputedFrom().AsTime()).Format(time.DateOnly)
	to := calendar.DateOf(cc.GetDeadline().GetDueTime().AsTime()).Format(time.DateOnly)
	e := &store.Entry{
		CaseNumber: number, Action: int16(lifecycle.DeadlineMoved), ActorOffice: s.Dir.Bureau().ID, ActorRole: "system",
		FromState: c.State, ToState: c.State, FromOffice: c.Holder, ToOffice: c.Holder,
		Note: clockNames[cc.GetDeadline().GetKind()] + "期限随工作日历调整：" + from + " → " + to,
	}
	if err := s.Store.Save(ctx, tx, c); err != nil { // a new version: the case changed
		return err
	}
	e.Time = c.UpdateTime
	if err := s.Store.AddEntry(ctx, tx, e); err != nil {
		return err
	}
	return publishMove(ctx, tx, c, e)
}

// queued are the states in which a case waits on its holder.
var queued = []int16{
	int16(lifecycle.Registered), int16(lifecycle.InHandling), int16(lifecycle.ReturnRequested),
	int16(lifecycle.Routed), int16(lifecycle.ReviewRequested), int16(lifecycle.ReReviewRequested),
}

// Register takes a case from intake's CaseRegistered event: the registering
// office holds it first (首办负责). A possible repeat of a matter finally
// closed after re-review (三级终结) is registered like any other: whether it
// is the same matter on the same facts is the holder's decision, not a
// similarity guess's. It is a batch of one event (see BeginRegistrations).
func (s *Server) Register(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	return outbox.ApplyBatch(ctx, tx, s.BeginRegistrations, ev)
}

// BeginRegistrations takes a batch of intake's feed at once: its new cases
// and their first entries in one statement, their events in one COPY.
func (s *Server) BeginRegistrations(_ context.Context, tx pgx.Tx, evs []*eventsv1.Event) (outbox.Batch, error) {
	return &registrations{s: s, tx: tx, seen: make(map[string]bool, len(evs))}, nil
}

// registrations is one batch of intake's feed.
type registrations struct {
	s       *Server
	tx      pgx.Tx
	seen    map[string]bool
	cases   []*store.Case
	entries []*store.Entry
	// traces are the events' trace contexts, which their moves continue.
	traces []string
	// repeats are the links clerks changed: case number, the case it
	// repeats now ("" for none), in the feed's order.
	repeats [][2]string
	// corrected are the registrations' versions after their corrections.
	corrected map[string]int64
}

// Apply takes one event of the batch.
func (r *registrations) Apply(ctx context.Context, ev *eventsv1.Event) error {
	if rc := ev.GetCaseRepeatChanged(); rc != nil {
		// A clerk linked or unlinked a repeat: whether a decline may cite
		// 第三十六条第三款 follows the link.
		repeatOf, _ := names.CaseNumber(rc.GetRepeatOf())
		r.repeats = append(r.repeats, [2]string{ev.GetCaseNumber(), repeatOf})
		return nil
	}
	if cc := ev.GetCaseCorrected(); cc != nil {
		// The etag's first part follows the registration's version.
		if cc.GetVersion() > r.corrected[ev.GetCaseNumber()] {
			if r.corrected == nil {
				r.corrected = map[string]int64{}
			}
			r.corrected[ev.GetCaseNumber()] = cc.GetVersion()
		}
		return nil
	}
	reg := ev.GetCaseRegistered()
	if reg == nil || r.seen[ev.GetCaseNumber()] {
		return nil
	}
	r.seen[ev.GetCaseNumber()] = true
	office, _ := names.OfficeID(reg.GetRegisteredBy())
	repeatOf, _ := names.CaseNumber(reg.GetRepeatOf())
	c := &store.Case{
		Number: ev.GetCaseNumber(), County: reg.GetCounty(), Township: reg.GetTownship(),
		Class: int16(reg.GetCaseClass()), RegisteredBy: office,
		State: int16(lifecycle.Registered), Holder: office, Involved: []string{office},
		Accused: reg.GetAccusedOffice(), RepeatOf: repeatOf, Docs: &assignmentv1.Case{},
		CreateTime: ev.GetOccurTime().AsTime(), ReceiveTime: reg.GetReceiveTime().AsTime(),
	}
	if reg.GetReceiveTime() == nil {
		c.ReceiveTime = c.CreateTime
	}
	if c.Accused == c.Holder {
		// Intake refuses this; should an event carry it anyway, the case is
		// kept (the registering office must hold it) and the refusal to route
		// it to the accused unit cannot apply.
		c.Accused = ""
	}
	r.cases = append(r.cases, c)
	r.traces = append(r.traces, tracing.Inject(ctx))
	r.entries = append(r.entries, &store.Entry{
		CaseNumber: c.Number, Action: int16(lifecycle.Register), Time: c.CreateTime,
		ActorOffice: office, ActorRole: reg.GetRegisteredRole(), ToState: c.State, ToOffice: office,
	})
	return nil
}

// Flush writes the batch's new cases (a replayed event's case exists and is
// left alone), their REGISTER moves, and declines the repeats of finally
// closed matters.
func (r *registrations) Flush(ctx context.Context) error {
	if len(r.cases) == 0 {
		return r.setRepeats(ctx)
	}
	created, err := r.s.Store.CreateAll(ctx, r.tx, r.cases, r.entries)
	if err != nil {
		return err
	}
	var moves []*eventsv1.Event
	for i, c := range r.cases {
		if created[i] {
			c.Version, c.UpdateTime = 1, c.CreateTime
			ev := moveEvent(c, r.entries[i])
			ev.Traceparent = r.traces[i]
			moves = append(moves, ev)
		}
	}
	if len(moves) > 0 {
		if err := outbox.AppendAll(ctx, r.tx, moves); err != nil {
			return err
		}
	}
	return r.setRepeats(ctx)
}

// setRepeats applies the batch's changed repeat links and registration
// versions, after its new cases.
func (r *registrations) setRepeats(ctx context.Context) error {
	for _, rp := range r.repeats {
		if err := r.s.Store.SetRepeat(ctx, r.tx, rp[0], rp[1]); err != nil {
			return err
		}
	}
	return r.s.Store.SetRegistrationVersions(ctx, r.tx, r.corrected)
}

// repeatsFinal reports whether c repeats a case finally closed after
// re-review (三级终结).
func (s *Server) repeatsFinal(ctx context.Context, tx pgx.Tx, c *store.Case) (bool, error) {
	if c.RepeatOf == "" {
		return false, nil
	}
	st, err := s.Store.State(ctx, tx, c.RepeatOf)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && lifecycle.State(st) == lifecycle.Final, err
}

// ReopenCase is the bureau's correction of a decision not to accept.
func (s *Server) ReopenCase(ctx context.Context, req *assignmentv1.ReopenCaseRequest) (*assignmentv1.ReopenCaseResponse, error) {
	var v rpcerr.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	c, err := s.transition(ctx, &v, move{
		method: "ReopenCase", action: lifecycle.Reopen, req: req,
		name: req.GetName(), etag: req.GetEtag(), requestID: req.GetRequestId(),
		note: "纠正不予受理：" + req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			if d := c.Docs.GetDecline(); d != nil {
				e.Note += "（原不予受理告知：" + summary(d.GetNotice()) + "）"
				c.Docs.CorrectedDeclines = append(c.Docs.CorrectedDeclines, d)
			}
			c.Docs.Decline = nil
			e.Target = c.Holder // the office that declined decides again
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &assignmentv1.ReopenCaseResponse{Case: c}, nil
}

// publishMove writes the CaseMoved event of entry e.
func publishMove(ctx context.Context, tx pgx.Tx, c *store.Case, e *store.Entry) error {
	return outbox.Append(ctx, tx, moveEvent(c, e))
}

// moveEvent is the CaseMoved event of entry e, with the facts the clocks
// need (scheduling follows this feed).
func moveEvent(c *store.Case, e *store.Entry) *eventsv1.Event {
	mv := &eventsv1.CaseMoved{
		County: c.County, Township: c.Township, Entry: entryProto(e), CaseClass: intakev1.CaseClass(c.Class),
	}
	switch lifecycle.Action(e.Action) {
	case lifecycle.Register:
		if !c.ReceiveTime.IsZero() {
			mv.ReceiveTime = timestamppb.New(c.ReceiveTime)
		}
	case lifecycle.SignFor:
		if !e.Received.IsZero() {
			mv.ReceiveTime = timestamppb.New(e.Received)
		}
	case lifecycle.Extend:
		mv.ExtensionDays = c.Docs.GetExtension().GetDays()
	case lifecycle.AssignDown:
		mv.ReportDue = c.Docs.GetAssignment().GetReportDue()
	case lifecycle.Evaluate:
		mv.Rating = c.Docs.GetEvaluation().GetRating()
	case lifecycle.TakeLead:
		mv.LeadAccount = c.Docs.GetLead().GetLeaderAccount()
	}
	return &eventsv1.Event{
		CaseNumber: c.Number,
		OccurTime:  timestamppb.New(e.Time),
		Payload:    &eventsv1.Event_CaseMoved{CaseMoved: mv},
	}
}

func (s *Server) toProto(c *store.Case) *assignmentv1.Case {
	out := proto.Clone(c.Docs).(*assignmentv1.Case)
	out.Name = names.Case(c.Number)
	out.CaseNumber = c.Number
	out.State = assignmentv1.CaseState(c.State)
	out.HolderOffice = names.Office(c.Holder)
	out.RegisteredBy = names.Office(c.RegisteredBy)
	out.Township = c.Township
	out.County = c.County
	out.Etag = version(c).Etag()
	out.UpdateTime = timestamppb.New(c.UpdateTime)
	out.AccusedOffice = names.Office(c.Accused)
	out.LitigationRelated = c.LitigationRelated
	out.Urgent = c.Urgent
	out.Deadlines = c.Deadlines
	out.RepeatOf = ""
	if c.RepeatOf != "" {
		out.RepeatOf = names.Case(c.RepeatOf)
	}
	if c.Pending != "" {
		out.PendingOffice = names.Office(c.Pending)
		if lifecycle.State(c.State) == lifecycle.Transferred {
			out.SendBackDue = timestamppb.New(calendar.EndOfDay(s.sendBackDue(c)))
		}
	}
	if !c.AcceptTime.IsZero() {
		out.AcceptTime = timestamppb.New(c.AcceptTime)
	}
	if due := s.nextInstanceDue(c); !due.IsZero() {
		out.NextInstanceDue = timestamppb.New(calendar.EndOfDay(due))
	}
	return out
}

func entryProto(e *store.Entry) *assignmentv1.HistoryEntry {
	return &assignmentv1.HistoryEntry{
		Sequence:     e.Sequence,
		Action:       assignmentv1.Action(e.Action),
		Time:         timestamppb.New(e.Time),
		ActorOffice:  names.Office(e.ActorOffice),
		ActorRole:    e.ActorRole,
		FromState:    assignmentv1.CaseState(e.FromState),
		ToState:      assignmentv1.CaseState(e.ToState),
		FromOffice:   names.Office(e.FromOffice),
		ToOffice:     names.Office(e.ToOffice),
		Note:         e.Note,
		TargetOffice: names.Office(e.Target),
	}
}

// version is the case's version across the services: the registration's as
// intake's feed last told, and its moves'.
func version(c *store.Case) caseversion.Version {
	return caseversion.Version{Registration: max(c.RegistrationVersion, 1), Moves: c.Version}
}

// summary shortens an answer for the history entry.
func summary(text string) string {
	const n = 120
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	return string([]rune(text)[:n]) + "…"
}

func optionalText(v *rpcerr.Violations, field, val string, max int) {
	if val != "" {
		requireText(v, field, val, max)
	}
}

// requireText checks a person's text as textnorm reads it: a reason of
// ideographic or zero-width spaces is no reason.
func requireText(v *rpcerr.Violations, field, val string, max int) {
	switch n := utf8.RuneCountInString(textnorm.Clean(val)); {
	case n == 0:
		v.Add(field, "is required")
	case n > max:
		v.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func stateError(err error, action lifecycle.Action, c *store.Case) error {
	switch {
	case lifecycle.State(c.State) == lifecycle.Final && !errors.Is(err, lifecycle.ErrKind):
		return refuse("CASE_FINAL", "the case was finally closed after re-review (三级终结); the same request on the same facts and reasons is not accepted again (信访工作条例 第三十六条第三款)",
			"state", assignmentv1.CaseState(c.State).String(), "action", action.String())
	case errors.Is(err, lifecycle.ErrNotCo):
		return rpcerr.New(codes.PermissionDenied, "NOT_CO_HANDLER", "only a co-handling department (协办) may do this")
	case errors.Is(err, lifecycle.ErrNotPending):
		return rpcerr.New(codes.PermissionDenied, "NOT_PENDING_OFFICE", "only the organ the transfer waits on may do this; it waits on "+names.Office(c.Pending),
			"pending_office", names.Office(c.Pending))
	case errors.Is(err, lifecycle.ErrState):
		return rpcerr.New(codes.FailedPrecondition, "CASE_STATE_CONFLICT",
			"a case in state "+assignmentv1.CaseState(c.State).String()+" does not allow "+action.String(),
			"state", assignmentv1.CaseState(c.State).String(), "action", action.String())
	case errors.Is(err, lifecycle.ErrNotHolder):
		return rpcerr.New(codes.PermissionDenied, "NOT_HOLDER", "only the office holding the case may do this; it is held by "+names.Office(c.Holder),
			"holder_office", names.Office(c.Holder))
	case errors.Is(err, lifecycle.ErrKind):
		return rpcerr.New(codes.PermissionDenied, "OFFICE_KIND_NOT_ALLOWED", "your kind of office may not "+action.String(), "action", action.String())
	}
	return err
}

// now is the wall clock at the database's precision, so documents and
// columns carry the same instants.
func now() time.Time { return time.Now().Truncate(time.Microsecond) }

// now is the time of the call: Now, or the demo clock's time when a
// demonstration load backdates the call (see democlock).
func (s *Server) now(ctx context.Context) time.Time { return democlock.Now(ctx, s.Now) }

// policyCase is what the access policy needs of c.
func policyCase(c *store.Case) policy.Case {
	var co []string
	for _, r := range c.Docs.GetCoHandlers() {
		id, _ := names.OfficeID(r)
		co = append(co, id)
	}
	return policy.Case{
		County: c.County, Involved: c.Involved, State: lifecycle.State(c.State), Holder: c.Holder, Pending: c.Pending, CoHandlers: co,
	}
}

// orderedActions are the lifecycle's actions in their enum order.
var orderedActions = slices.Sorted(maps.Keys(lifecycle.Rules))
