package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/reporting/internal/store"
)

// clockBase selects the running duty clocks of a scope.
func (s *Server) clockBase(sc scope) store.ClockFilter {
	return store.ClockFilter{County: s.Dir.County.Code, Township: sc.township, Office: sc.duty, Party: sc.office}
}

// clockFilters are the overdue and at-risk selections of a scope at now.
func (s *Server) clockFilters(sc scope, now time.Time) (overdue, atRisk store.ClockFilter) {
	base := s.clockBase(sc)
	overdue, atRisk = base, base
	overdue.DueAfter, overdue.DueBefore = allTime.from, now
	atRisk.DueAfter, atRisk.DueBefore = now, calendar.EndOfDay(s.atRiskHorizon(calendar.DateOf(now)))
	return overdue, atRisk
}

// atRiskHorizon is the last day of the at-risk window that starts today.
func (s *Server) atRiskHorizon(today time.Time) time.Time {
	n := s.AtRiskWorkingDays
	if n == 0 {
		n = 3
	}
	horizon, _ := calendar.Official().AddWorkingDays(today, n)
	return horizon
}

// ListDeadlines lists running duty clocks that are overdue or at risk.
func (s *Server) ListDeadlines(ctx context.Context, req *reportingv1.ListDeadlinesRequest) (*reportingv1.ListDeadlinesResponse, error) {
	var v fault.Violations
	if req.GetStatus() == reportingv1.DeadlineStatus_DEADLINE_STATUS_UNSPECIFIED || reportingv1.DeadlineStatus_name[int32(req.GetStatus())] == "" {
		v.Add("status", "must be DEADLINE_STATUS_OVERDUE or DEADLINE_STATUS_AT_RISK")
	}
	scopeKey := req.GetCounty() + "|" + req.GetStatus().String() + "|" + req.GetTownship() + "|" + req.GetOffice()
	size, err := pagination.Size(req.GetPageSize(), 50, 500)
	if err != nil {
		v.Add("page_size", err.Error())
	}
	k, _, err := pagination.ParseKeyset(req.GetPageToken(), scopeKey)
	var after store.ClockKey
	if err != nil {
		v.Add("page_token", "is not a token from a previous call of this list")
	} else if k.Key != "" {
		num, kind, _ := strings.Cut(k.Key, "/")
		n, _ := strconv.Atoi(kind)
		after = store.ClockKey{DueTime: k.Time, CaseNumber: num, Kind: int16(n)}
	}
	office := ""
	if req.GetOffice() != "" {
		id, ok := names.OfficeID(req.GetOffice())
		if _, known := s.Dir.Office(id); !ok || !known {
			v.Add("office", `is not an office of the county ("offices/{id}")`)
		}
		office = id
	}
	sc, err := s.scopeOf(ctx, &v, req.GetCounty(), req.GetTownship(), "")
	if err != nil {
		return nil, err
	}
	if sc.duty != "" {
		if office != "" && office != sc.duty {
			return nil, fault.New(fault.PermissionDenied, "OTHER_DEPARTMENT", "a department sees its own deadlines only")
		}
		office = sc.duty
	}
	sc.duty = office
	now := s.now()
	od, ar := s.clockFilters(sc, now)
	f := od
	if req.GetStatus() == reportingv1.DeadlineStatus_DEADLINE_STATUS_AT_RISK {
		f = ar
	}
	clocks, err := s.Store.Clocks(ctx, f, after, size+1)
	if err != nil {
		return nil, err
	}
	out := &reportingv1.ListDeadlinesResponse{}
	if len(clocks) > size {
		clocks = clocks[:size]
		last := clocks[size-1]
		out.NextPageToken = pagination.KeysetToken(pagination.Keyset{Time: last.DueTime, Key: last.CaseNumber + "/" + strconv.Itoa(int(last.Kind))}, scopeKey)
	}
	today := calendar.DateOf(now)
	for _, c := range clocks {
		d := &assignmentv1.Deadline{
			Kind: assignmentv1.ClockKind(c.Kind), Office: names.Office(c.Office), StartTime: timestamppb.New(c.StartTime),
			DueTime: timestamppb.New(c.DueTime), Rule: c.Rule, ExtensionDays: c.ExtensionDays, Provisional: c.Provisional,
			Overdue: c.Overdue || c.DueTime.Before(now),
		}
		days := 0
		if c.DueTime.Before(now) {
			days = int(today.Sub(calendar.DateOf(c.DueTime)).Hours() / 24)
		}
		out.Deadlines = append(out.Deadlines, &reportingv1.RunningDeadline{
			Case: names.Case(c.CaseNumber), Township: c.Township, Deadline: d, DaysOverdue: int32(days), OfficeTitle: s.title(d.GetOffice()),
		})
	}
	return out, nil
}
