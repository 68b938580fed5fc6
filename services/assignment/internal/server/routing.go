package server

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
)

// target checks the organ a case is routed, transferred or assigned to.
func (s *Server) target(v *fault.Violations, field, name string, kinds ...directory.Kind) directory.Office {
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
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	var to directory.Office
	if req.GetToOffice() != "" {
		to = s.target(&v, "to_office", req.GetToOffice(), directory.Department)
	}
	return moveCase[assignmentv1.RouteCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Route,
		note:   req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			accusation := c.Class == int16(intakev1.CaseClass_CASE_CLASS_ACCUSATION)
			if to.ID == "" {
				organs := s.Dir.WithDuty(directory.DutyDiscipline)
				if !accusation || len(organs) == 0 {
					return fault.New(fault.InvalidArgument, "INVALID_ARGUMENT", "to_office is required (only an accusation goes to the discipline organ by default)", "field", "to_office")
				}
				to = organs[0]
			}
			c.LitigationRelated = req.GetLitigationRelated()
			return s.handOver(c, e, to, s.now(ctx))
		},
	})
}

// ReferCaseUp hands a township's case to the county petition bureau.
func (s *Server) ReferCaseUp(ctx context.Context, req *assignmentv1.ReferCaseUpRequest) (*assignmentv1.ReferCaseUpResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	return moveCase[assignmentv1.ReferCaseUpResponse](ctx, s, req, &v, move{
		action: lifecycle.ReferUp,
		note:   req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, _ *store.Entry) error {
			c.Holder = s.Dir.Bureau().ID
			return nil
		},
	})
}

// TransferCase hands a case to another organ, which must sign for it.
func (s *Server) TransferCase(ctx context.Context, req *assignmentv1.TransferCaseRequest) (*assignmentv1.TransferCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	to := s.target(&v, "to_office", req.GetToOffice(), directory.Department)
	return moveCase[assignmentv1.TransferCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Transfer,
		note:   req.GetReason(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			return s.handOver(c, e, to, s.now(ctx))
		},
	})
}

// SignForCase makes the pending organ the holder.
func (s *Server) SignForCase(ctx context.Context, req *assignmentv1.SignForCaseRequest) (*assignmentv1.SignForCaseResponse, error) {
	var v fault.Violations
	return moveCase[assignmentv1.SignForCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.SignFor,
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, caller auth.Caller, e *store.Entry) error {
			e.Received = c.TransferTime // the acceptance period runs from receipt, not from signing
			c.Holder, c.Pending, c.TransferTime = caller.Office.ID, "", time.Time{}
			return nil
		},
	})
}

// SendBackCase records the pending organ's objection; a case that bounced
// too often between the same two offices goes to the bureau instead.
func (s *Server) SendBackCase(ctx context.Context, req *assignmentv1.SendBackCaseRequest) (*assignmentv1.SendBackCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "reason", req.GetReason(), maxReason)
	return moveCase[assignmentv1.SendBackCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.SendBack,
		note:   req.GetReason(),
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
}

// AcceptCaseReturn takes a case back after an objection.
func (s *Server) AcceptCaseReturn(ctx context.Context, req *assignmentv1.AcceptCaseReturnRequest) (*assignmentv1.AcceptCaseReturnResponse, error) {
	var v fault.Violations
	optionalText(&v, "note", req.GetNote(), maxReason)
	return moveCase[assignmentv1.AcceptCaseReturnResponse](ctx, s, req, &v, move{
		action: lifecycle.AcceptReturn,
		note:   req.GetNote(),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			e.Target = c.Pending
			c.Pending, c.TransferTime = "", time.Time{}
			return nil
		},
	})
}

// AssignCaseDown hands a case to a township with a deadline for its report.
func (s *Server) AssignCaseDown(ctx context.Context, req *assignmentv1.AssignCaseDownRequest) (*assignmentv1.AssignCaseDownResponse, error) {
	var v fault.Violations
	requireText(&v, "instructions", req.GetInstructions(), maxAnswer)
	to := s.target(&v, "to_office", req.GetToOffice(), directory.Township)
	due := s.futureDate(&v, "report_due", req.GetReportDue(), s.now(ctx))
	return moveCase[assignmentv1.AssignCaseDownResponse](ctx, s, req, &v, move{
		action: lifecycle.AssignDown,
		note:   summary(req.GetInstructions()),
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
}

// ReportCase files the township's report on an assigned case.
func (s *Server) ReportCase(ctx context.Context, req *assignmentv1.ReportCaseRequest) (*assignmentv1.ReportCaseResponse, error) {
	var v fault.Violations
	requireText(&v, "text", req.GetText(), maxAnswer)
	return moveCase[assignmentv1.ReportCaseResponse](ctx, s, req, &v, move{
		action: lifecycle.Report,
		note:   summary(req.GetText()),
		apply: func(_ context.Context, _ pgx.Tx, c *store.Case, _ auth.Caller, e *store.Entry) error {
			a := c.Docs.GetAssignment()
			a.Report, a.ReportTime = req.GetText(), timestamppb.New(s.now(ctx))
			e.Target, _ = names.OfficeID(a.GetAssignedBy())
			return nil
		},
	})
}
