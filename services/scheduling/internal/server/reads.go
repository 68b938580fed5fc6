package server

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/scheduling/internal/reception"
	"github.com/tongban/tongban/services/scheduling/internal/store"
)

func deadline(c *store.Clock) *assignmentv1.Deadline {
	d := &assignmentv1.Deadline{
		Kind: assignmentv1.ClockKind(c.Kind), Office: names.Office(c.Office), StartTime: timestamppb.New(c.StartTime),
		DueTime: timestamppb.New(calendar.EndOfDay(c.DueDate)), Rule: c.Rule, ExtensionDays: int32(c.ExtensionDays),
		Provisional: c.Provisional, Overdue: !c.OverdueAt.IsZero(),
	}
	if !c.StopTime.IsZero() {
		d.StopTime = timestamppb.New(c.StopTime)
	}
	if !c.PausedAt.IsZero() {
		d.PauseTime = timestamppb.New(c.PausedAt)
	}
	return d
}

// clockTitles name the clocks for agendas.
var clockTitles = map[assignmentv1.ClockKind]string{
	assignmentv1.ClockKind_CLOCK_KIND_ROUTING:           "受理",
	assignmentv1.ClockKind_CLOCK_KIND_ACCEPTANCE:        "告知",
	assignmentv1.ClockKind_CLOCK_KIND_OBJECTION:         "异议",
	assignmentv1.ClockKind_CLOCK_KIND_HANDLING:          "办理",
	assignmentv1.ClockKind_CLOCK_KIND_REVIEW_REQUEST:    "复查申请",
	assignmentv1.ClockKind_CLOCK_KIND_REVIEW:            "复查",
	assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW_REQUEST: "复核申请",
	assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW:         "复核",
	assignmentv1.ClockKind_CLOCK_KIND_REPORT:            "办结报告",
}

// ListCaseDeadlines lists a case's clocks.
func (s *Server) ListCaseDeadlines(ctx context.Context, req *schedulingv1.ListCaseDeadlinesRequest) (*schedulingv1.ListCaseDeadlinesResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	num, ok := names.CaseNumber(req.GetParent())
	if !ok {
		var v fault.Violations
		v.Add("parent", names.CaseNumberHint)
		return nil, v.Err()
	}
	county, involved, err := s.Store.Involved(ctx, num)
	if errors.Is(err, store.ErrNotFound) || err == nil && !policy.CanSeeCase(caller, county, involved) {
		return nil, fault.CaseNotFound("parent", req.GetParent())
	}
	if err != nil {
		return nil, err
	}
	cs, err := s.Store.ForCase(ctx, num)
	if err != nil {
		return nil, err
	}
	resp := &schedulingv1.ListCaseDeadlinesResponse{}
	for _, c := range cs {
		resp.Deadlines = append(resp.Deadlines, deadline(c))
	}
	return resp, nil
}

// ListOfficeDeadlines lists the running clocks an office must meet.
func (s *Server) ListOfficeDeadlines(ctx context.Context, req *schedulingv1.ListOfficeDeadlinesRequest) (*schedulingv1.ListOfficeDeadlinesResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	o, err := reception.OwnOffice(s.Dir, caller, &v, req.GetParent())
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "deadlines/"+req.GetParent())
	if verr := v.Err(); verr != nil {
		return nil, verr
	}
	if err != nil {
		return nil, err
	}
	cs, err := s.Store.ForOffice(ctx, o.ID, page.Offset, page.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &schedulingv1.ListOfficeDeadlinesResponse{}
	cs, resp.NextPageToken = pagination.Trim(page, cs)
	for _, c := range cs {
		resp.Deadlines = append(resp.Deadlines, &schedulingv1.OfficeDeadline{Case: names.Case(c.CaseNumber), Deadline: deadline(c)})
	}
	return resp, nil
}

// ListReminders lists an office's reminders.
func (s *Server) ListReminders(ctx context.Context, req *schedulingv1.ListRemindersRequest) (*schedulingv1.ListRemindersResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	o, err := reception.OwnOffice(s.Dir, caller, &v, req.GetParent())
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "reminders/"+req.GetParent())
	if verr := v.Err(); verr != nil {
		return nil, verr
	}
	if err != nil {
		return nil, err
	}
	rs, err := s.Store.Reminders(ctx, o.ID, page.Offset, page.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &schedulingv1.ListRemindersResponse{}
	rs, resp.NextPageToken = pagination.Trim(page, rs)
	for _, r := range rs {
		resp.Reminders = append(resp.Reminders, &schedulingv1.Reminder{
			Case: names.Case(r.CaseNumber), Kind: assignmentv1.ClockKind(r.Kind), Office: names.Office(r.Office),
			DueTime: timestamppb.New(calendar.EndOfDay(r.DueDate)), CreateTime: timestamppb.New(r.CreateTime),
		})
	}
	return resp, nil
}

// ListSupervisions lists 督办: all of the county for the bureau, otherwise
// those of the caller's deadlines or that it supervises.
func (s *Server) ListSupervisions(ctx context.Context, req *schedulingv1.ListSupervisionsRequest) (*schedulingv1.ListSupervisionsResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "supervisions")
	if err := v.Err(); err != nil {
		return nil, err
	}
	office := caller.Office.ID
	if policy.SeesCounty(caller) {
		office = ""
	}
	ss, err := s.Store.Supervisions(ctx, caller.County, office, req.GetShowResolved(), page.Offset, page.Size+1)
	if err != nil {
		return nil, err
	}
	resp := &schedulingv1.ListSupervisionsResponse{}
	ss, resp.NextPageToken = pagination.Trim(page, ss)
	for _, x := range ss {
		out := &schedulingv1.Supervision{
			Case: names.Case(x.CaseNumber), Kind: assignmentv1.ClockKind(x.Kind), Township: x.Township,
			Office: names.Office(x.Office), Supervisor: names.Office(x.Supervisor),
			DueTime: timestamppb.New(calendar.EndOfDay(x.DueDate)), RaiseTime: timestamppb.New(x.RaiseTime),
		}
		if x.ResolveTime != nil {
			out.ResolveTime = timestamppb.New(*x.ResolveTime)
		}
		resp.Supervisions = append(resp.Supervisions, out)
	}
	return resp, nil
}
