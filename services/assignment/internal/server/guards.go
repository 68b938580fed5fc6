package server

import (
	"context"
	"strconv"
	"time"

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

// A guard is a move's precondition on the case as it stands (a period, a
// document it holds or lacks, a lead, a hearing), beyond the policy and
// the state machine. It only reads. decide runs it before every move and
// availableActions before offering one, so a move offered is a move
// allowed: the one function decides both.
type guard func(s *Server, ctx context.Context, c *store.Case, caller auth.Caller) error

var guards = map[lifecycle.Action]guard{
	lifecycle.SendBack: func(s *Server, ctx context.Context, c *store.Case, _ auth.Caller) error {
		if due := s.sendBackDue(c); s.now(ctx).After(calendar.EndOfDay(due)) {
			return refuse("OBJECTION_PERIOD_OVER", "an objection to a transfer is due within "+strconv.Itoa(s.Rules.ObjectionWorkingDays)+
				" working days, by "+due.Format(time.DateOnly)+" ("+s.Rules.ObjectionSource+"); sign for the case",
				"send_back_due", due.Format(time.DateOnly))
		}
		return nil
	},
	lifecycle.Report: func(_ *Server, _ context.Context, c *store.Case, _ auth.Caller) error {
		switch a := c.Docs.GetAssignment(); {
		case a == nil:
			return refuse("NOT_ASSIGNED", "only a case the county assigned down (交办) takes a report (办结报告)")
		case a.GetReportTime() != nil:
			return refuse("ALREADY_REPORTED", "the report on this case was filed on "+a.GetReportTime().AsTime().In(calendar.China).Format(time.DateOnly))
		}
		return nil
	},
	lifecycle.Extend: func(s *Server, _ context.Context, c *store.Case, _ auth.Caller) error {
		switch {
		case c.Class != int16(intakev1.CaseClass_CASE_CLASS_CLAIM):
			return refuse("NO_HANDLING_PERIOD", "only a claim (申诉求决) runs the handling period that an extension lengthens")
		case c.Docs.GetExtension() != nil:
			return refuse("ALREADY_EXTENDED", "the handling period may be extended once ("+s.Rules.HandlingSource+")")
		}
		return nil
	},
	lifecycle.RequestReview: func(s *Server, ctx context.Context, c *store.Case, _ auth.Caller) error {
		_, err := s.nextInstanceOpen(ctx, c, c.Docs.GetAnswer().GetOffice(), "review (复查)")
		return err
	},
	lifecycle.RequestReReview: func(s *Server, ctx context.Context, c *store.Case, _ auth.Caller) error {
		_, err := s.nextInstanceOpen(ctx, c, c.Docs.GetReview().GetOffice(), "re-review (复核)")
		return err
	},
	// 听证: the re-review waits for its hearing to end (信访工作条例 第三十六条).
	lifecycle.ReReview:     hearing(false),
	lifecycle.StartHearing: hearing(false),
	lifecycle.EndHearing:   hearing(true),
	lifecycle.Close: func(s *Server, ctx context.Context, c *store.Case, _ auth.Caller) error {
		r := c.Docs.GetEvaluation().GetRating()
		satisfied := lifecycle.State(c.State) == lifecycle.Evaluated &&
			(r == assignmentv1.Rating_RATING_SATISFIED || r == assignmentv1.Rating_RATING_BASICALLY_SATISFIED)
		if due := s.nextInstanceDue(c); !due.IsZero() && !satisfied && !s.now(ctx).After(calendar.EndOfDay(due)) {
			return refuse("NEXT_INSTANCE_PERIOD_OPEN", "the petitioner may still ask for the next instance until "+due.Format(time.DateOnly)+
				" ("+s.Rules.NextInstanceSource+"); close after that, or once they are satisfied", "due", due.Format(time.DateOnly))
		}
		return nil
	},
	lifecycle.TakeLead: func(_ *Server, _ context.Context, c *store.Case, _ auth.Caller) error {
		if l := c.Docs.GetLead(); l != nil {
			return refuse("ALREADY_LED", l.GetLeaderTitle()+l.GetLeader()+" is already in charge of the case")
		}
		return nil
	},
	lifecycle.RecordProgress: func(_ *Server, _ context.Context, c *store.Case, caller auth.Caller) error {
		lead := c.Docs.GetLead()
		switch {
		case lead == nil:
			return refuse("NOT_LED", "no leader is in charge of this case (包案): there is no card to record on")
		case caller.Role == policy.RoleLeader && caller.Account != "" && policy.AccountPrincipal(caller.Account) == lead.GetLeaderAccount():
			return nil // the leader in charge records on their own card
		case caller.Office.ID != c.Holder && caller.Office.Resource() != lead.GetUnit() && caller.Office.Kind != directory.Bureau:
			return fault.New(fault.PermissionDenied, "NOT_IN_CHARGE", "only the holder, the unit in charge ("+lead.GetUnit()+"), the leader in charge or the petition bureau records on the card")
		}
		return nil
	},
}

// hearing is the guard of a move that needs a re-review hearing open (or
// not).
func hearing(open bool) guard {
	return func(_ *Server, _ context.Context, c *store.Case, _ auth.Caller) error {
		switch started := c.Docs.GetHearingStartTime(); {
		case open && started == nil:
			return refuse("NO_HEARING", "no hearing is being held")
		case !open && started != nil:
			return refuse("HEARING_OPEN", "a hearing is being held since "+started.AsTime().In(calendar.China).Format(time.DateOnly)+
				": end it first (its time does not count toward the re-review period, 信访工作条例 第三十六条第二款)")
		}
		return nil
	}
}

// decide is the whole decision on a move by caller: the policy (visibility
// first, then the state machine), then the move's guard. It returns the
// state after the move. A case the caller may not see is store.ErrNotFound.
func (s *Server) decide(ctx context.Context, caller auth.Caller, a lifecycle.Action, c *store.Case) (lifecycle.State, error) {
	to, err := policy.Decide(caller, a, policyCase(c))
	if err != nil {
		return to, err
	}
	if g := guards[a]; g != nil {
		if err := g(s, ctx, c, caller); err != nil {
			return to, err
		}
	}
	return to, nil
}

// availableActions are the moves decide allows caller on c now, in the
// lifecycle's order (the registration, which no caller makes, left out).
func (s *Server) availableActions(ctx context.Context, caller auth.Caller, c *store.Case) []assignmentv1.Action {
	var out []assignmentv1.Action
	for _, a := range orderedActions {
		if a == lifecycle.Register {
			continue
		}
		if _, err := s.decide(ctx, caller, a, c); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// withActions renders c for caller, with the moves caller may make.
func (s *Server) withActions(ctx context.Context, caller auth.Caller, c *store.Case) *assignmentv1.Case {
	out := s.toProto(c)
	out.AvailableActions = s.availableActions(ctx, caller, c)
	return out
}

// nextInstanceDue is the last day of the petitioner's period for asking
// the next instance (复查, 复核), zero when none runs. It is the date of
// scheduling's clock, computed on the county's calendar (official notices
// and local days off) and recomputed when the calendar changes, so the
// date shown is the date enforced. Until that clock arrives (a moment
// after the decision) assignment's own count on the official calendar
// stands in.
func (s *Server) nextInstanceDue(c *store.Case) time.Time {
	if c.NextInstanceDue.IsZero() {
		return time.Time{}
	}
	for _, kind := range []assignmentv1.ClockKind{assignmentv1.ClockKind_CLOCK_KIND_REVIEW_REQUEST, assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW_REQUEST} {
		if due, ok := runningClock(c, kind, ""); ok {
			return due
		}
	}
	return c.NextInstanceDue
}

// sendBackDue is the last day the pending organ may object to a transfer:
// scheduling's objection clock, as nextInstanceDue.
func (s *Server) sendBackDue(c *store.Case) time.Time {
	if due, ok := runningClock(c, assignmentv1.ClockKind_CLOCK_KIND_OBJECTION, names.Office(c.Pending)); ok {
		return due
	}
	due, _ := s.Calendar().AddWorkingDays(c.TransferTime, s.Rules.ObjectionWorkingDays)
	return due
}

// runningClock is the due date of c's running clock of kind (for office,
// when given), as scheduling published it.
func runningClock(c *store.Case, kind assignmentv1.ClockKind, office string) (time.Time, bool) {
	for _, d := range c.Deadlines {
		if d.GetKind() == kind && d.GetStopTime() == nil && (office == "" || d.GetOffice() == office) {
			return calendar.DateOf(d.GetDueTime().AsTime()), true
		}
	}
	return time.Time{}, false
}

// nextInstanceOpen checks a request for review or re-review: a class that
// has them, within the period, and an organ above the one that decided.
func (s *Server) nextInstanceOpen(ctx context.Context, c *store.Case, decidedBy, what string) (directory.Office, error) {
	if !reviewable(c) {
		return directory.Office{}, refuse("NO_REVIEW_FOR_CLASS", "only a claim (申诉求决) handled as a petition has review and re-review (信访工作条例 第三十一条、第三十五条); suggestions and accusations do not")
	}
	if due := s.nextInstanceDue(c); s.now(ctx).After(calendar.EndOfDay(due)) {
		return directory.Office{}, refuse("PERIOD_OVER", what+" must be asked within "+strconv.Itoa(s.Rules.NextInstanceDays)+" days of the decision, by "+
			due.Format(time.DateOnly)+" ("+s.Rules.NextInstanceSource+")", "due", due.Format(time.DateOnly))
	}
	return s.higher(decidedBy)
}
