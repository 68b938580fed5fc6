// Package server implements tongban.reporting.v1.ReportingService over the
// read model that Record feeds from the other services' events (record.go):
// who sees which figures (scope.go), the summary and the monthly report
// (server.go, their arithmetic in figures.go), the deadline lists
// (deadlines.go) and the exports (export.go).
package server

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/reporting/internal/store"
)

// Server implements ReportingService.
type Server struct {
	reportingv1.UnimplementedReportingServiceServer
	Store *store.Store
	Dir   *directory.Directory
	// Now is the clock of "this month" and of the overdue lists
	// (injectable for tests).
	Now func() time.Time
	// AtRiskWorkingDays is the window of the at-risk list (default 3, the
	// reminder window of scheduling).
	AtRiskWorkingDays int
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// GetSummary returns the county's all-time headline figures; a township
// sees its own only.
func (s *Server) GetSummary(ctx context.Context, req *reportingv1.GetSummaryRequest) (*reportingv1.GetSummaryResponse, error) {
	var v fault.Violations
	want := "counties/" + s.Dir.County.Code + "/summary"
	county, ok := strings.CutSuffix(req.GetName(), "/summary")
	if !ok {
		v.Add("name", `must be "`+want+`"`)
	}
	sc, err := s.scopeOf(ctx, &v, county, "", "")
	if err != nil {
		return nil, err
	}
	if sc.duty != "" {
		return nil, fault.New(fault.PermissionDenied, "OFFICE_KIND_NOT_ALLOWED", "the county summary is for the petition bureau and townships; a department's figures are in GetReport")
	}
	f := store.Filter{County: s.Dir.County.Code, From: allTime.from, To: allTime.to, Township: sc.township, Office: sc.office}
	byTownship, transferred := map[string]*store.Sums{}, map[string]*store.Sums{}
	var b store.Batch
	b.Breakdown(f, store.ByTownship, byTownship)
	b.Breakdown(f, store.ByTotal, map[string]*store.Sums{})
	b.Breakdown(f, store.ByDepartment, transferred)
	if err := b.Send(ctx, s.Store); err != nil {
		return nil, err
	}
	sum := &reportingv1.Summary{Name: want, Office: officeName(sc.office)}
	for _, t := range slices.Sorted(maps.Keys(byTownship)) {
		m := byTownship[t]
		if m.Get("cases") == 0 {
			continue
		}
		sum.Registered += m.Get("cases")
		sum.ReferredUp += m.Get("referred_up")
		sum.Answered += m.Get("answered")
		sum.Open += m.Get("cases") - m.Get("closed") - m.Get("declined") // not ended
		sum.Townships = append(sum.Townships, &reportingv1.TownshipFigures{
			Township: t, Registered: m.Get("cases"), ReferredUp: m.Get("referred_up"), Answered: m.Get("answered"),
		})
	}
	for _, m := range transferred {
		sum.Transferred += m.Get("cases")
	}
	return &reportingv1.GetSummaryResponse{Summary: sum}, nil
}

// GetReport returns the dashboard of a period.
func (s *Server) GetReport(ctx context.Context, req *reportingv1.GetReportRequest) (*reportingv1.GetReportResponse, error) {
	var v fault.Violations
	p := s.readPeriod(&v, req.GetStartMonth(), req.GetEndMonth())
	sc, err := s.scopeOf(ctx, &v, req.GetCounty(), req.GetTownship(), req.GetDepartment())
	if err != nil {
		return nil, err
	}
	r, err := s.report(ctx, sc, p)
	if err != nil {
		return nil, err
	}
	return &reportingv1.GetReportResponse{Report: r}, nil
}

// report reads a report's figures in one round trip.
func (s *Server) report(ctx context.Context, sc scope, p period) (*reportingv1.Report, error) {
	f := store.Filter{County: s.Dir.County.Code, From: p.from, To: p.to, Township: sc.township, Office: sc.office}
	ya, prev := f, f
	ya.From, ya.To = p.yearAgoFrom, p.yearAgoTo
	prev.From, prev.To = p.prevFrom, p.prevTo
	var (
		b                                   store.Batch
		total, yearAgo, previous            = map[string]*store.Sums{}, map[string]*store.Sums{}, map[string]*store.Sums{}
		months, monthsYearAgo               = map[string]*store.Sums{}, map[string]*store.Sums{}
		channels, classes, townships, depts = map[string]*store.Sums{}, map[string]*store.Sums{}, map[string]*store.Sums{}, map[string]*store.Sums{}
		topics                              []store.Topic
		leaders                             []store.Leader
		overdue, atRisk                     int64
		recordsStart                        time.Time
	)
	b.Breakdown(f, store.ByTotal, total)
	b.Breakdown(ya, store.ByTotal, yearAgo)
	b.Breakdown(prev, store.ByTotal, previous)
	b.Breakdown(f, store.ByMonth, months)
	b.Breakdown(ya, store.ByMonth, monthsYearAgo)
	b.Breakdown(f, store.ByTownship, townships)
	b.Breakdown(f, store.ByDepartment, depts)
	b.Breakdown(f, store.ByChannel, channels)
	b.Breakdown(f, store.ByClass, classes)
	b.Topics(f, 10, &topics)
	b.Leaders(f, &leaders)
	b.RecordsStart(s.Dir.County.Code, &recordsStart)
	today := calendar.DateOf(s.now())
	base := s.clockBase(sc)
	b.CountDue(base, allTime.from, today.AddDate(0, 0, -1), &overdue)
	b.CountDue(base, today, s.atRiskHorizon(today), &atRisk)
	var asOf time.Time
	b.AsOf(&asOf)
	if err := b.Send(ctx, s.Store); err != nil {
		return nil, err
	}
	r := &reportingv1.Report{
		County: s.Dir.County.Code, StartMonth: p.from.Format("2006-01"), EndMonth: p.to.Format("2006-01"),
		Township: sc.township, Department: officeName(sc.duty), Office: officeName(sc.office),
		Figures: figures(total[""]), YearAgo: figures(yearAgo[""]), Previous: figures(previous[""]),
		OverdueNow: overdue, AtRiskNow: atRisk,
		YearAgoStartMonth: p.yearAgoFrom.Format("2006-01"), YearAgoEndMonth: p.yearAgoTo.Format("2006-01"),
		PreviousStartMonth: p.prevFrom.Format("2006-01"), PreviousEndMonth: p.prevTo.Format("2006-01"),
	}
	if !asOf.IsZero() {
		r.AsOf = timestamppb.New(asOf)
	}
	// A comparison with a span the records do not wholly cover (the county
	// began mid-month, or later) would compare a year with a few weeks.
	if !recordsStart.IsZero() {
		r.RecordsStartMonth = recordsStart.Format("2006-01")
		r.YearAgoPartial, r.PreviousPartial = !p.yearAgoFrom.After(recordsStart), !p.prevFrom.After(recordsStart)
	}
	if !r.YearAgoPartial {
		r.CasesChangeYearOnYear = change(r.Figures.GetCases(), r.YearAgo.GetCases())
	}
	if !r.PreviousPartial {
		r.CasesChangePeriodOnPeriod = change(r.Figures.GetCases(), r.Previous.GetCases())
	}
	for m := p.from; !m.After(p.to); m = m.AddDate(0, 1, 0) {
		key, yaKey := m.Format("2006-01"), m.AddDate(-1, 0, 0).Format("2006-01")
		r.Months = append(r.Months, count(key, key, months[key]))
		r.MonthsYearAgo = append(r.MonthsYearAgo, count(yaKey, yaKey, monthsYearAgo[yaKey]))
	}
	for _, c := range []intakev1.Channel{intakev1.Channel_CHANNEL_VISIT, intakev1.Channel_CHANNEL_LETTER, intakev1.Channel_CHANNEL_PHONE, intakev1.Channel_CHANNEL_WEB, intakev1.Channel_CHANNEL_REFERRAL} {
		r.Channels = append(r.Channels, count(c.String(), channelLabels[c], channels[strconv.Itoa(int(c))]))
	}
	for _, c := range []intakev1.CaseClass{intakev1.CaseClass_CASE_CLASS_SUGGESTION, intakev1.CaseClass_CASE_CLASS_ACCUSATION, intakev1.CaseClass_CASE_CLASS_CLAIM} {
		r.Classes = append(r.Classes, count(c.String(), classLabels[c], classes[strconv.Itoa(int(c))]))
	}
	for _, t := range topics {
		label := t.Topic
		if label == "" {
			label = "未分类"
		}
		r.Topics = append(r.Topics, &reportingv1.Count{Key: t.Topic, Label: label, Cases: t.Cases, Persons: t.Persons})
	}
	r.Townships = s.units(townships)
	r.Departments = s.units(depts)
	for _, l := range leaders {
		r.Leaders = append(r.Leaders, &reportingv1.LeaderFigures{
			Leader: l.Leader, Office: l.Office, OfficeTitle: s.title(l.Office), ReceptionMeetings: l.ReceptionMeetings, Appointments: l.Appointments,
		})
	}
	return r, nil
}
