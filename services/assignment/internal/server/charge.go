package server

// Co-handling (主办 / 协办), rework (退回重办), urgency (紧急), a leader's
// personal charge (包案) and its case card (一案一卡).

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
)

// Subjects reads a case's subject from intake (the registration is
// intake's; assignment keeps none of its text).
type Subjects interface {
	Subject(ctx context.Context, number string) (string, error)
}

// IntakeSubjects asks intake over gRPC, as the internal service account.
type IntakeSubjects struct{ Client intakev1.IntakeServiceClient }

// Subject implements Subjects.
func (i IntakeSubjects) Subject(ctx context.Context, number string) (string, error) {
	r, err := i.Client.GetCase(ctx, &intakev1.GetCaseRequest{Name: names.Case(number), View: intakev1.CaseView_CASE_VIEW_BASIC})
	if err != nil {
		return "", err
	}
	return r.GetCase().GetSubject(), nil
}

// AddCaseCoHandler adds a co-handling department beside the lead.
func (s *Server) AddCaseCoHandler(ctx context.Context, req *assignmentv1.AddCaseCoHandlerRequest) (*assignmentv1.AddCaseCoHandlerResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	co := s.target(&v, "office", req.GetOffice(), directory.Department)
	return moveCase[assignmentv1.AddCaseCoHandlerResponse](ctx, s, req, &v, move{
		action: lifecycle.AddCoHandler,
		note:   req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			switch {
			case co.ID == c.Holder:
				return refuse("ALREADY_LEAD", co.Name+" holds the case (主办)", "office", co.Resource())
			case co.ID == c.Accused:
				return refuse("ACCUSED_UNIT", "an accusation (检举控告) is never shown to the unit it accuses (信访工作条例 第三十条第三款)", "office", co.Resource())
			case slices.Contains(c.Docs.GetCoHandlers(), co.Resource()):
				return refuse("ALREADY_CO_HANDLER", co.Name+" already co-handles the case", "office", co.Resource())
			}
			c.Docs.CoHandlers = append(c.Docs.CoHandlers, co.Resource())
			involve(c, co.ID)
			e.Target = co.ID
			return nil
		},
	})
}

// involve lets office see the case.
func involve(c *store.Case, office string) {
	if !slices.Contains(c.Involved, office) {
		c.Involved = append(c.Involved, office)
	}
}

// ContributeToCase records a co-handler's finding or draft.
func (s *Server) ContributeToCase(ctx context.Context, req *assignmentv1.ContributeToCaseRequest) (*assignmentv1.ContributeToCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "text", req.GetText(), maxAnswer)
	kind := req.GetKind()
	switch {
	case assignmentv1.ContributionKind_name[int32(kind)] == "":
		v.Add("kind", "is not a known kind: CONTRIBUTION_KIND_FINDING or CONTRIBUTION_KIND_DRAFT")
	case kind == assignmentv1.ContributionKind_CONTRIBUTION_KIND_UNSPECIFIED:
		kind = assignmentv1.ContributionKind_CONTRIBUTION_KIND_FINDING
	}
	return moveCase[assignmentv1.ContributeToCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Contribute,
		note:   kind.String() + "：" + summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, e *store.Entry) error {
			c.Docs.Contributions = append(c.Docs.Contributions, &assignmentv1.Contribution{
				Office: caller.Office.Resource(), Kind: kind, Text: req.GetText(), CreateTime: timestamppb.New(s.now(ctx)),
			})
			e.Target = c.Holder
			return nil
		},
	})
}

// ReturnCaseForRework reopens handling of an inadequate answer.
func (s *Server) ReturnCaseForRework(ctx context.Context, req *assignmentv1.ReturnCaseForReworkRequest) (*assignmentv1.ReturnCaseForReworkResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	return moveCase[assignmentv1.ReturnCaseForReworkResponse](ctx, s, req, &v, move{
		action: lifecycle.ReturnForRework,
		note:   req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			c.Docs.ReworkedAnswers = append(c.Docs.ReworkedAnswers, c.Docs.GetAnswer())
			c.Docs.Answer, c.Docs.Evaluation = nil, nil
			c.AnswerTime, c.NextInstanceDue = time.Time{}, time.Time{}
			e.Target = c.Holder
			return nil
		},
	})
}

// SetCaseUrgency marks a case urgent or not.
func (s *Server) SetCaseUrgency(ctx context.Context, req *assignmentv1.SetCaseUrgencyRequest) (*assignmentv1.SetCaseUrgencyResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	note := "紧急：" + req.GetReason()
	if !req.GetUrgent() {
		note = "取消紧急：" + req.GetReason()
	}
	return moveCase[assignmentv1.SetCaseUrgencyResponse](ctx, s, req, &v, move{
		action: lifecycle.SetUrgency,
		note:   note,
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			if c.Urgent == req.GetUrgent() {
				return refuse("URGENCY_UNCHANGED", "the case is already marked so")
			}
			c.Urgent = req.GetUrgent()
			return nil
		},
	})
}

// LeadCase records a leader's personal charge of a case.
func (s *Server) LeadCase(ctx context.Context, req *assignmentv1.LeadCaseRequest) (*assignmentv1.LeadCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "leader", req.GetLeader(), 50)
	requireText(&v, "leader_title", req.GetLeaderTitle(), 50)
	requireText(&v, "person", req.GetPerson(), 50)
	unit := s.target(&v, "unit", req.GetUnit(), directory.Department, directory.Township, directory.Bureau)
	if _, ok := names.AccountUsername(req.GetLeaderAccount()); req.GetLeaderAccount() != "" && !ok {
		v.Add("leader_account", `must be "accounts/{username}", e.g. "accounts/zhang.wei"`)
	}
	due := s.futureDate(&v, "due_date", req.GetDueDate(), s.now(ctx))
	return moveCase[assignmentv1.LeadCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.TakeLead,
		note:   req.GetLeaderTitle() + req.GetLeader() + "包案；责任单位 " + unit.Name + "，责任人 " + req.GetPerson() + "，办结时限 " + req.GetDueDate(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			switch {
			case unit.ID == c.Accused:
				return refuse("ACCUSED_UNIT", "an accusation (检举控告) is never put in the charge of the unit it accuses (信访工作条例 第三十条第三款)", "unit", unit.Resource())
			}
			c.Docs.Lead = &assignmentv1.Lead{
				Leader: req.GetLeader(), LeaderTitle: req.GetLeaderTitle(), Unit: unit.Resource(), Person: req.GetPerson(),
				DueDate: timestamppb.New(due), LeadTime: timestamppb.New(s.now(ctx)), LeaderAccount: req.GetLeaderAccount(),
			}
			involve(c, unit.ID)
			if a := req.GetLeaderAccount(); a != "" {
				involve(c, a) // the leader sees the case (policy.Principal)
			}
			e.Target = unit.ID
			return nil
		},
	})
}

// futureDate parses a "YYYY-MM-DD" date in China that is not in the past.
func (s *Server) futureDate(v *fault.Violations, field, val string, now time.Time) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, val, calendar.China)
	switch {
	case val == "":
		v.Add(field, `is required: a date "YYYY-MM-DD"`)
	case err != nil:
		v.Add(field, `must be a date "YYYY-MM-DD"`)
	case calendar.EndOfDay(d).Before(now):
		v.Add(field, "must not be in the past")
	}
	return d
}

// RecordCaseProgress adds an entry to the case card.
func (s *Server) RecordCaseProgress(ctx context.Context, req *assignmentv1.RecordCaseProgressRequest) (*assignmentv1.RecordCaseProgressResponse, error) {
	var v fault.Violations
	requireText(&v, "steps", req.GetSteps(), maxAnswer)
	requireText(&v, "progress", req.GetProgress(), maxAnswer)
	optionalText(&v, "measures", req.GetMeasures(), maxAnswer)
	return moveCase[assignmentv1.RecordCaseProgressResponse](ctx, s, req, &v, move{
		action: lifecycle.RecordProgress,
		note:   summary(req.GetProgress()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, _ *store.Entry) error {
			c.Docs.Progress = append(c.Docs.Progress, &assignmentv1.Progress{
				Office: caller.Office.Resource(), Steps: req.GetSteps(), Progress: req.GetProgress(), Measures: req.GetMeasures(),
				RecordTime: timestamppb.New(s.now(ctx)),
			})
			return nil
		},
	})
}

// GetCaseCard returns the card of a case in a leader's charge.
func (s *Server) GetCaseCard(ctx context.Context, req *assignmentv1.GetCaseCardRequest) (*assignmentv1.GetCaseCardResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	caseName, isCard := strings.CutSuffix(req.GetName(), "/card")
	num, ok := names.CaseNumber(caseName)
	if !isCard || !ok {
		v.Add("name", `must be "cases/{case_number}/card", e.g. "cases/330421-2026-000123/card"`)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.Store.Get(ctx, num)
	if err == nil && !policy.CanSeeCase(caller, c.County, c.Involved) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fault.Named(err, "name", req.GetName())
	}
	lead := c.Docs.GetLead()
	if lead == nil {
		return nil, refuse("NOT_LED", "no leader is in charge of this case (包案), so it has no card")
	}
	card := &assignmentv1.CaseCard{
		Name: req.GetName(), State: assignmentv1.CaseState(c.State), HolderOffice: names.Office(c.Holder),
		Lead: lead, Progress: c.Docs.GetProgress(), Answer: c.Docs.GetAnswer(),
		Overdue: c.Docs.GetAnswer() == nil && lifecycle.Open(lifecycle.State(c.State)) && s.now(ctx).After(calendar.EndOfDay(lead.GetDueDate().AsTime())),
	}
	if s.Subjects != nil {
		if card.Subject, err = s.Subjects.Subject(ctx, num); err != nil {
			return nil, err
		}
	}
	return &assignmentv1.GetCaseCardResponse{Card: card}, nil
}
