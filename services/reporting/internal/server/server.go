// Package server implements tongban.reporting.v1.ReportingService over the
// read model that Record feeds from the other services' events.
package server

import (
	"cmp"
	"context"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/rpcerr"
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

// scope is what a report counts: the county, the cases concerning one
// township (the bureau's filter), or the cases one office may list.
type scope struct {
	// township limits to the cases concerning it (9-digit code).
	township string
	// office limits to the cases the office is party to: exactly those
	// policy.CanSeeCase lets it see, and its lists show.
	office string
	// duty limits the clocks to those the office must act on (a
	// department's).
	duty string
}

// scopeOf checks the county name and the requested township and
// department against the caller: the petition bureau (and the prefecture
// bureau above it) sees everything, and may limit to the cases concerning
// a township or to those a department may list; a township or a
// department sees the cases it may list, no more — the figures of a case
// it cannot open would tell it of the case (an accusation against its own
// staff, 信访工作条例 第三十条). Permission is decided before anything is
// read.
func (s *Server) scopeOf(ctx context.Context, v *rpcerr.Violations, county, township, department string) (scope, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return scope{}, err
	}
	// "counties/-" names the county this deployment serves (AIP-159), so a
	// page need not know its code.
	if want := "counties/" + s.Dir.County.Code; county != want && county != "counties/-" {
		v.Add("county", `must be "`+want+`" or "counties/-" (this deployment serves county `+s.Dir.County.Code+`)`)
	}
	sc := scope{township: township}
	if township != "" {
		if o, ok := s.Dir.Office(township); !ok || o.Kind != directory.Township {
			v.Add("township", "is not a township of the county (a 9-digit division code)")
		}
	}
	if department != "" {
		id, _ := names.OfficeID(department)
		if o, ok := s.Dir.Office(id); !ok || o.Kind != directory.Department {
			v.Add("department", `is not a county department ("offices/{id}")`)
		}
		sc.office, sc.duty = id, id
	}
	if err := v.Err(); err != nil {
		return scope{}, err
	}
	if !policy.May(caller, policy.SeeFigures) {
		return scope{}, rpcerr.New(codes.PermissionDenied, "ROLE_NOT_ALLOWED", "a "+caller.Role+" may not see the figures")
	}
	switch caller.Office.Kind {
	case directory.Bureau, directory.Prefecture:
	case directory.Township:
		if township != "" && township != caller.Office.ID {
			return scope{}, rpcerr.New(codes.PermissionDenied, "OTHER_TOWNSHIP", "a township sees the figures of its own cases only")
		}
		if department != "" {
			return scope{}, rpcerr.New(codes.PermissionDenied, "OTHER_DEPARTMENT", "a township sees the figures of its own cases only")
		}
		sc = scope{office: caller.Office.ID}
	case directory.Department:
		if sc.office != "" && sc.office != caller.Office.ID || township != "" {
			return scope{}, rpcerr.New(codes.PermissionDenied, "OTHER_DEPARTMENT", "a department sees the figures of its own cases only")
		}
		sc = scope{office: caller.Office.ID, duty: caller.Office.ID}
	default:
		return scope{}, rpcerr.New(codes.PermissionDenied, "OFFICE_KIND_NOT_ALLOWED", "figures are for the petition bureau, townships and departments")
	}
	return sc, nil
}

var allTime = struct{ from, to time.Time }{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)}

// GetSummary returns the county's all-time headline figures; a township
// sees its own only.
func (s *Server) GetSummary(ctx context.Context, req *reportingv1.GetSummaryRequest) (*reportingv1.GetSummaryResponse, error) {
	var v rpcerr.Violations
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
		return nil, rpcerr.New(codes.PermissionDenied, "OFFICE_KIND_NOT_ALLOWED", "the county summary is for the petition bureau and townships; a department's figures are in GetReport")
	}
	f := store.Filter{County: s.Dir.County.Code, From: allTime.from, To: allTime.to, Township: sc.township, Office: sc.office}
	byTownship, transferred := map[string]*store.Sums{}, map[string]*store.Sums{}
	var b store.Batch
	b.Breakdown(f, store.ByTownship, byTownship)
	b.Breakdown(f, store.ByTotal, map[string]*store.Sums{})
	b.Breakdown(f, store.ByDepartment, transferred)
	if err := b.Send(ctx, s.Store); err != nil {
		return nil, rpcerr.ToStatus(err)
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

var monthPattern = regexp.MustCompile(`^(\d{4})-(0[1-9]|1[0-2])$`)

// parseMonth reads "YYYY-MM" as the first day of the month (UTC, as the
// date columns hold it).
func parseMonth(v *rpcerr.Violations, field, val string) time.Time {
	m := monthPattern.FindStringSubmatch(val)
	if m == nil {
		v.Add(field, `must be a month "YYYY-MM", e.g. "2026-03"`)
		return time.Time{}
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	if y < 2000 || y > 2100 {
		v.Add(field, "must be a month between 2000 and 2100")
		return time.Time{}
	}
	return time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
}

// period is a span of whole months, with the spans it is compared to:
// the same months a year earlier (同比) and the span of the same length
// just before (环比), which for twelve months is the same span.
type period struct {
	from, to, yearAgoFrom, yearAgoTo, prevFrom, prevTo time.Time
	months                                             int
}

func newPeriod(from, to time.Time) period {
	n := (to.Year()-from.Year())*12 + int(to.Month()-from.Month()) + 1
	return period{
		from: from, to: to, months: n,
		yearAgoFrom: from.AddDate(-1, 0, 0), yearAgoTo: to.AddDate(-1, 0, 0),
		prevFrom: from.AddDate(0, -n, 0), prevTo: from.AddDate(0, -1, 0),
	}
}

// readPeriod validates start_month and end_month; the default is this
// year to this month.
func (s *Server) readPeriod(v *rpcerr.Violations, start, end string) period {
	to := month(s.now())
	if end != "" {
		to = parseMonth(v, "end_month", end)
	}
	from := time.Date(to.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	if start != "" {
		from = parseMonth(v, "start_month", start)
	}
	if v.Len() > 0 {
		return period{}
	}
	p := newPeriod(from, to)
	switch {
	case to.Before(from):
		v.Add("end_month", "must not be before start_month")
	case p.months > 36:
		v.Add("end_month", "must be at most 36 months after start_month")
	}
	return p
}

// GetReport returns the dashboard of a period.
func (s *Server) GetReport(ctx context.Context, req *reportingv1.GetReportRequest) (*reportingv1.GetReportResponse, error) {
	var v rpcerr.Violations
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
		return nil, rpcerr.ToStatus(err)
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

// title is the name of the office of resource name "offices/{id}" (the
// name itself when the directory does not know it).
func (s *Server) title(resource string) string {
	if o, ok := s.Dir.OfficeByResource(resource); ok {
		return o.Name
	}
	return resource
}

func officeName(id string) string {
	if id == "" {
		return ""
	}
	return names.Office(id)
}

// units ranks the offices of a breakdown: most cases first.
func (s *Server) units(m map[string]*store.Sums) []*reportingv1.UnitFigures {
	var out []*reportingv1.UnitFigures
	for id, sums := range m {
		if sums.Get("cases") == 0 {
			continue
		}
		out = append(out, &reportingv1.UnitFigures{Office: names.Office(id), Title: s.title(names.Office(id)), Figures: figures(sums)})
	}
	slices.SortFunc(out, func(a, b *reportingv1.UnitFigures) int {
		return cmp.Or(cmp.Compare(b.GetFigures().GetCases(), a.GetFigures().GetCases()), cmp.Compare(a.GetOffice(), b.GetOffice()))
	})
	return out
}

var channelLabels = map[intakev1.Channel]string{
	intakev1.Channel_CHANNEL_VISIT: "走访", intakev1.Channel_CHANNEL_LETTER: "来信", intakev1.Channel_CHANNEL_PHONE: "来电",
	intakev1.Channel_CHANNEL_WEB: "网上", intakev1.Channel_CHANNEL_REFERRAL: "转入",
}

var classLabels = map[intakev1.CaseClass]string{
	intakev1.CaseClass_CASE_CLASS_SUGGESTION: "建议意见", intakev1.CaseClass_CASE_CLASS_ACCUSATION: "检举控告", intakev1.CaseClass_CASE_CLASS_CLAIM: "申诉求决",
}

func count(key, label string, s *store.Sums) *reportingv1.Count {
	if s == nil {
		s = new(store.Sums)
	}
	return &reportingv1.Count{Key: key, Label: label, Cases: s.Get("cases"), Persons: s.Get("persons")}
}

// figures turns sums into Figures: each measure into the field of its name,
// then the rates.
func figures(s *store.Sums) *reportingv1.Figures {
	f := &reportingv1.Figures{}
	if s == nil {
		return f
	}
	fields := f.ProtoReflect().Descriptor().Fields()
	for i, name := range store.Measures {
		f.ProtoReflect().Set(fields.ByName(protoreflect.Name(name)), protoreflect.ValueOfInt64(s[i]))
	}
	f.TimelyRoutingRate = rate(f.RoutingOnTime, f.RoutingOnTime+f.RoutingLate)
	f.TimelyAcceptanceRate = rate(f.AcceptanceOnTime, f.AcceptanceOnTime+f.AcceptanceLate)
	f.OnTimeAnswerRate = rate(f.HandlingOnTime, f.HandlingOnTime+f.HandlingLate)
	f.ClosedRate = rate(f.Closed+f.Declined, f.Cases)
	f.EvaluationRate = rate(f.Evaluated, f.Answered)
	f.SatisfactionRate = rate(f.Satisfied+f.BasicallySatisfied, f.Evaluated)
	f.ResolutionRate = rate(f.Resolved, f.Cases-f.Declined)
	return f
}

func rate(n, d int64) *float64 {
	if d == 0 {
		return nil
	}
	return proto.Float64(float64(n) / float64(d))
}

func change(now, before int64) *float64 {
	if before == 0 {
		return nil
	}
	return proto.Float64(float64(now-before) / float64(before))
}

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
	var v rpcerr.Violations
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
			return nil, rpcerr.New(codes.PermissionDenied, "OTHER_DEPARTMENT", "a department sees its own deadlines only")
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
		return nil, rpcerr.ToStatus(err)
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
