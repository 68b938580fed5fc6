// Package server implements tongban.scheduling.v1.SchedulingService: the
// working-day calendar, the statutory clocks of every case (driven by
// assignment's event feed), their reminders and supervision (督办).
package server

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/county/ruleset"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/metrics"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/scheduling/internal/clocks"
	"github.com/tongban/tongban/services/scheduling/internal/store"
)

// Server implements SchedulingService.
type Server struct {
	schedulingv1.UnimplementedSchedulingServiceServer
	Store *store.Store
	Dir   *directory.Directory
	Rules *ruleset.RuleSet
	// RemindWorkingDays is how many working days before a deadline the
	// office is reminded.
	RemindWorkingDays int
	// Now is the clock of the jobs (injectable for tests).
	Now func() time.Time
	// Notifier delivers reception notices.
	Notifier Notifier

	cal      atomic.Pointer[calendar.Calendar] // official data + loaded notices + local days off
	mu       sync.Mutex                        // guards localKey
	localKey string                            // the notices and local days off cal was built with
}

// New returns a server over st for the county of dir.
func New(st *store.Store, dir *directory.Directory) (*Server, error) {
	rules, err := ruleset.Get(dir.County.RuleSet)
	if err != nil {
		return nil, err
	}
	s := &Server{Store: st, Dir: dir, Rules: rules, RemindWorkingDays: 3, Now: time.Now, Notifier: RecordOnly{}}
	s.cal.Store(calendar.Official())
	return s, nil
}

// Calendar is the calendar in force: the official notices and the county's
// local days off.
func (s *Server) Calendar() *calendar.Calendar { return s.cal.Load() }

// LoadCalendar builds the calendar in force from the official data, the
// notices loaded at run time and the local days off; it reports whether it
// changed since the last load.
func (s *Server) LoadCalendar(ctx context.Context) (bool, error) {
	texts, err := s.Store.HolidayNotices(ctx)
	if err != nil {
		return false, err
	}
	days, err := s.Store.LocalRestDays(ctx)
	if err != nil {
		return false, err
	}
	keys := make([]string, 0, len(days))
	for d, name := range days {
		keys = append(keys, d+" "+name)
	}
	slices.Sort(keys)
	key := strings.Join(append(texts, keys...), "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == s.localKey {
		return false, nil
	}
	c, err := calendar.Build(texts, days)
	if err != nil {
		return false, err
	}
	s.cal.Store(c)
	s.localKey = key
	return true, nil
}

var kinds = map[calendar.Kind]schedulingv1.DayKind{
	calendar.Workday:       schedulingv1.DayKind_DAY_KIND_WORKDAY,
	calendar.Weekend:       schedulingv1.DayKind_DAY_KIND_WEEKEND,
	calendar.Holiday:       schedulingv1.DayKind_DAY_KIND_HOLIDAY,
	calendar.MakeupWorkday: schedulingv1.DayKind_DAY_KIND_MAKEUP_WORKDAY,
	calendar.LocalRestDay:  schedulingv1.DayKind_DAY_KIND_LOCAL_REST_DAY,
}

// GetCalendarDay returns one day of the working calendar.
func (s *Server) GetCalendarDay(ctx context.Context, req *schedulingv1.GetCalendarDayRequest) (*schedulingv1.GetCalendarDayResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	date, ok := strings.CutPrefix(req.GetName(), "calendar/days/")
	t, err := time.Parse(time.DateOnly, date)
	if !ok || err != nil {
		var v rpcerr.Violations
		v.Add("name", `must be "calendar/days/{yyyy-mm-dd}", e.g. "calendar/days/2026-10-08"`)
		return nil, v.Err()
	}
	d := s.Calendar().Day(t)
	return &schedulingv1.GetCalendarDayResponse{Day: &schedulingv1.CalendarDay{
		Name:        req.GetName(),
		Date:        date,
		WorkingDay:  d.Working(),
		Kind:        kinds[d.Kind],
		Holiday:     d.Holiday,
		Provisional: d.Provisional,
	}}, nil
}

// compute sets a clock's due date, reminder day, provisional flag and rule
// from its start, kind and extension, on the calendar in force.
func (s *Server) compute(c *store.Clock) {
	cal := s.Calendar()
	c.DueDate, c.Provisional, c.Rule = clocks.Due(cal, s.Rules, clocks.Kind(c.Kind), c.StartTime, c.ExtensionDays, c.FixedDue)
	c.RemindOn = cal.WorkingDaysBefore(c.DueDate, s.RemindWorkingDays)
}

// ApplyMove runs a case's clocks from assignment's CaseMoved event, in the
// consumer's transaction, and publishes ClockChanged for every clock it
// touched. It is a batch of one event (see BeginMoves).
func (s *Server) ApplyMove(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	return outbox.ApplyBatch(ctx, tx, s.BeginMoves, ev)
}

// BeginMoves takes a batch of assignment's feed: the clocks of its cases
// are read and locked at once, and each move's writes wait for the
// transaction's next round trip (its commit).
func (s *Server) BeginMoves(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) (outbox.Batch, error) {
	var numbers []string
	for _, ev := range evs {
		if ev.GetCaseMoved() != nil {
			numbers = append(numbers, ev.GetCaseNumber())
		}
	}
	slices.Sort(numbers)
	held, err := s.Store.LockAll(ctx, tx, slices.Compact(numbers))
	if err != nil {
		return nil, err
	}
	return &moves{s: s, tx: tx, held: held}, nil
}

// moves is one batch of assignment's feed.
type moves struct {
	s  *Server
	tx pgx.Tx
	// held are the batch's cases' clocks as the moves so far left them.
	held map[string][]*store.Clock
}

func (m *moves) Apply(ctx context.Context, ev *eventsv1.Event) error {
	return m.s.applyMove(ctx, m.tx, ev, m.held)
}

func (m *moves) Flush(context.Context) error { return nil }

// applyMove applies one move to its case's clocks in held, which it
// updates.
func (s *Server) applyMove(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event, held map[string][]*store.Clock) error {
	mv := ev.GetCaseMoved()
	if mv == nil {
		return nil
	}
	e := mv.GetEntry()
	at := e.GetTime().AsTime()
	holder, _ := names.OfficeID(e.GetToOffice())
	target, _ := names.OfficeID(e.GetTargetOffice())
	actor, _ := names.OfficeID(e.GetActorOffice())
	num := ev.GetCaseNumber()
	// A leader who takes charge (包案) sees the case by their account.
	if err := s.Store.Involve(ctx, tx, num, mv.GetCounty(), holder, target, actor, mv.GetLeadAccount()); err != nil {
		return err
	}
	eff := clocks.Of(clocks.Move{
		Action: e.GetAction(), Class: mv.GetCaseClass(), At: at, ReceiveTime: timeOf(mv.GetReceiveTime()),
		Holder: holder, Target: target, ExtensionDays: int(mv.GetExtensionDays()), ReportDue: timeOf(mv.GetReportDue()),
	})
	byKind := map[clocks.Kind]*store.Clock{}
	// version is each clock's version as this move leaves it: every write
	// of a row adds one (an insert makes it 1). The rows are locked and only
	// moves insert clocks, so it need not be read back.
	version := map[int16]int64{}
	for _, c := range held[num] {
		byKind[clocks.Kind(c.Kind)] = c
		version[c.Kind] = c.Version
	}
	update := func(c *store.Clock) error {
		version[c.Kind]++
		return s.Store.Update(ctx, tx, c)
	}
	var changed []*store.Clock
	for _, k := range eff.Stop {
		c := byKind[k]
		if c == nil || !c.StopTime.IsZero() {
			continue
		}
		c.StopTime = at
		if err := update(c); err != nil {
			return err
		}
		if err := s.Store.Resolve(ctx, tx, num, c.Kind); err != nil {
			return err
		}
		changed = append(changed, c)
	}
	if c := byKind[clocks.Handling]; c != nil && (eff.Extend > 0 || eff.Reopen) {
		c.ExtensionDays += eff.Extend
		if eff.Reopen {
			c.StopTime = time.Time{}
		}
		s.compute(c)
		if err := update(c); err != nil {
			return err
		}
		if !s.today().After(c.DueDate) {
			if err := s.Store.Resolve(ctx, tx, num, c.Kind); err != nil { // the extension met the 督办
				return err
			}
		}
		changed = append(changed, c)
	}
	for _, k := range eff.Pause {
		if c := byKind[k]; c != nil && c.StopTime.IsZero() && c.PausedAt.IsZero() {
			c.PausedAt = at
			if err := update(c); err != nil {
				return err
			}
			changed = append(changed, c)
		}
	}
	for _, k := range eff.Resume {
		if c := byKind[k]; c != nil && c.StopTime.IsZero() && !c.PausedAt.IsZero() {
			// The days the hearing took do not count: the period grows by them.
			c.ExtensionDays += daysBetween(c.PausedAt, at)
			c.PausedAt = time.Time{}
			s.compute(c)
			if err := update(c); err != nil {
				return err
			}
			changed = append(changed, c)
		}
	}
	for _, st := range eff.Start {
		c := &store.Clock{
			CaseNumber: num, Kind: int16(st.Kind), County: mv.GetCounty(), Township: mv.GetTownship(),
			Office: st.Office, Supervised: clocks.Supervised(st.Kind), StartTime: st.At, FixedDue: st.Due,
		}
		s.compute(c)
		if old := byKind[st.Kind]; old != nil && old.StopTime.IsZero() {
			if err := s.Store.Resolve(ctx, tx, num, old.Kind); err != nil { // a restart ends the old clock's 督办
				return err
			}
		}
		version[c.Kind]++
		if err := s.Store.Start(ctx, tx, c); err != nil {
			return err
		}
		changed = append(changed, c)
	}
	for _, c := range changed {
		byKind[clocks.Kind(c.Kind)] = c // a restarted clock's new row last
	}
	after := make([]*store.Clock, 0, len(byKind))
	for _, c := range byKind {
		c.Version = version[c.Kind]
		after = append(after, c)
	}
	slices.SortFunc(after, func(a, b *store.Clock) int { return int(a.Kind) - int(b.Kind) })
	held[num] = after
	for _, c := range changed {
		if err := s.publishAt(ctx, tx, c, version[c.Kind], time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// daysBetween counts the calendar days from a's date to b's date in China.
func daysBetween(a, b time.Time) int {
	return int(calendar.DateOf(b).Sub(calendar.DateOf(a)).Hours() / 24)
}

// timeOf is t's time, or the zero time when t is unset.
func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

// mutate runs fn once per request id (a retry gets the first answer, out)
// in a transaction that also records the change in the audit log.
func (s *Server) mutate(ctx context.Context, caller auth.Caller, method, rid, caseNumber string, req, out proto.Message, fn func(tx pgx.Tx) error) error {
	return pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		_, err := idempotency.Do(ctx, tx, idempotency.Key{Scope: caller.Office.ID, Method: method, RequestID: rid}, req, out, func() error {
			if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Schedule, caseNumber, rid, "method="+method)); err != nil {
				return err
			}
			return fn(tx)
		})
		return err
	})
}

// publish writes ClockChanged for c, with the version this transaction left
// it at.
func (s *Server) publish(ctx context.Context, tx pgx.Tx, c *store.Clock) error {
	version, err := s.Store.Version(ctx, tx, c.CaseNumber, c.Kind)
	if err != nil {
		return err
	}
	return s.publishAt(ctx, tx, c, version, time.Time{})
}

// publishAt writes ClockChanged for c at version; recomputedFrom, when
// set, is the last day a change of the calendar moved it from.
func (s *Server) publishAt(ctx context.Context, tx pgx.Tx, c *store.Clock, version int64, recomputedFrom time.Time) error {
	cc := &eventsv1.ClockChanged{County: c.County, Deadline: deadline(c), Version: version}
	if !recomputedFrom.IsZero() {
		cc.RecomputedFrom = timestamppb.New(recomputedFrom)
	}
	return outbox.Append(ctx, tx, &eventsv1.Event{CaseNumber: c.CaseNumber, Payload: &eventsv1.Event_ClockChanged{ClockChanged: cc}})
}

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

// today is the date in China now, at midnight UTC.
func (s *Server) today() time.Time { return calendar.DateOf(s.Now()) }

// supervisor is the office above o: the county (its petition bureau) above
// its townships and departments, the prefecture above the bureau.
func (s *Server) supervisor(o string) string {
	off, ok := s.Dir.Office(o)
	if ok && off.Kind == directory.Bureau {
		if p, ok := s.Dir.Prefecture(); ok {
			return p.ID
		}
	}
	if ok && off.Kind == directory.Prefecture {
		return off.ID
	}
	return s.Dir.Bureau().ID
}

// Tick runs the jobs once: reminders for deadlines near, 督办 for deadlines
// missed, reception notices due. Each claims its rows with FOR UPDATE SKIP
// LOCKED and marks them in the same transaction, so replicas running Tick
// at once never send one twice.
func (s *Server) Tick(ctx context.Context) (reminded, supervised int, err error) {
	today := s.today()
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		due, err := s.Store.ClaimReminders(ctx, tx, today, 100)
		if err != nil {
			return err
		}
		for _, c := range due {
			if err := s.Store.Remind(ctx, tx, c); err != nil {
				return err
			}
		}
		reminded = len(due)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		late, err := s.Store.ClaimOverdue(ctx, tx, today, 100)
		if err != nil {
			return err
		}
		for _, c := range late {
			if err := s.Store.Supervise(ctx, tx, c, s.supervisor(c.Office)); err != nil {
				return err
			}
			if err := s.publish(ctx, tx, c); err != nil {
				return err
			}
		}
		supervised = len(late)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	_, err = s.sendNotices(ctx)
	return reminded, supervised, err
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

// sortBy sorts xs by key, stably.
func sortBy[T any](xs []T, key func(T) string) {
	slices.SortStableFunc(xs, func(a, b T) int { return strings.Compare(key(a), key(b)) })
}

// Gauges registers scheduling's own metrics: the jobs' backlog by kind and
// the open 督办.
func (s *Server) Gauges(m *metrics.Metrics) {
	scrape := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), time.Second)
	}
	m.GaugeVec("tongban_jobs_due", "Reminders, supervisions and notices due that the jobs have not done yet.", "kind", func() map[string]float64 {
		ctx, cancel := scrape()
		defer cancel()
		due, err := s.Store.JobsDue(ctx, s.today(), s.Now())
		if err != nil {
			return nil
		}
		return due
	})
	m.Gauge("tongban_supervisions_open", "Supervisions (督办) of missed deadlines not yet resolved.", func() float64 {
		ctx, cancel := scrape()
		defer cancel()
		n, _ := s.Store.OpenSupervisions(ctx)
		return float64(n)
	})
}

// Recompute recomputes every running clock on the calendar in force (after
// a local day off was added, or a new year's notice loaded) and publishes
// the ones whose due date moved.
func (s *Server) Recompute(ctx context.Context) (int, error) {
	moved := 0
	err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		running, err := s.Store.Running(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range running {
			before, prov := c.DueDate, c.Provisional
			s.compute(c)
			if c.DueDate.Equal(before) && c.Provisional == prov {
				continue
			}
			if err := s.Store.Update(ctx, tx, c); err != nil {
				return err
			}
			version, err := s.Store.Version(ctx, tx, c.CaseNumber, c.Kind)
			if err != nil {
				return err
			}
			var from time.Time
			if !c.DueDate.Equal(before) {
				from = calendar.EndOfDay(before) // the last day moved: the case's history says so
			}
			if err := s.publishAt(ctx, tx, c, version, from); err != nil {
				return err
			}
			moved++
		}
		return nil
	})
	return moved, err
}

// Jobs returns the background worker: every interval it reloads the local
// days off (recomputing clocks when they changed, so every replica sees an
// administrator's change) and runs Tick.
func (s *Server) Jobs(interval time.Duration, logf func(msg string, args ...any)) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if changed, err := s.LoadCalendar(ctx); err != nil {
				logf("scheduling: calendar", "error", err.Error())
			} else if changed {
				if _, err := s.Recompute(ctx); err != nil {
					logf("scheduling: recompute", "error", err.Error())
				}
			}
			if _, _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				logf("scheduling: jobs", "error", err.Error())
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}

// ImportHolidayNotice loads a year's holiday notice at run time.
func (s *Server) ImportHolidayNotice(ctx context.Context, req *schedulingv1.ImportHolidayNoticeRequest) (*schedulingv1.ImportHolidayNoticeResponse, error) {
	caller, err := policy.Require(ctx, policy.Configure)
	if err != nil {
		return nil, err
	}
	if caller.Office.Kind != directory.Bureau {
		return nil, rpcerr.New(codes.PermissionDenied, "BUREAU_ONLY", "only the county petition bureau loads holiday notices")
	}
	var v rpcerr.Violations
	n, perr := calendar.ParseNotice(strings.NewReader(req.GetText()))
	if perr != nil {
		v.Add("text", perr.Error())
	} else if _, err := s.Calendar().WithNotices([]*calendar.Notice{n}); err != nil {
		v.Add("text", err.Error())
	}
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := &schedulingv1.ImportHolidayNoticeResponse{Year: int32(n.Year), Source: n.Source}
	for _, d := range n.Holidays {
		out.Holidays += int32(len(d))
	}
	for _, d := range n.Workdays {
		out.Workdays += int32(len(d))
	}
	err = s.mutate(ctx, caller, "ImportHolidayNotice", rid, "", req, out, func(tx pgx.Tx) error {
		added, err := s.Store.AddHolidayNotice(ctx, tx, n.Year, req.GetText(), n.Source, caller.Office.ID)
		if err != nil {
			return err
		}
		if !added {
			return rpcerr.New(codes.AlreadyExists, "ALREADY_EXISTS", strconv.Itoa(n.Year)+"'s notice is already loaded")
		}
		return outbox.Append(ctx, tx, &eventsv1.Event{Payload: &eventsv1.Event_HolidayNoticeImported{
			HolidayNoticeImported: &eventsv1.HolidayNoticeImported{Year: int32(n.Year), Text: req.GetText()},
		}})
	})
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	if _, err := s.LoadCalendar(ctx); err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	moved, err := s.Recompute(ctx)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	out.Recomputed = int32(moved)
	return out, nil
}

// CreateLocalRestDay adds a local day off and recomputes running clocks.
func (s *Server) CreateLocalRestDay(ctx context.Context, req *schedulingv1.CreateLocalRestDayRequest) (*schedulingv1.CreateLocalRestDayResponse, error) {
	caller, err := policy.Require(ctx, policy.Configure)
	if err != nil {
		return nil, err
	}
	if caller.Office.Kind != directory.Bureau {
		return nil, rpcerr.New(codes.PermissionDenied, "BUREAU_ONLY", "only the county petition bureau adds local days off")
	}
	var v rpcerr.Violations
	day, err := time.Parse(time.DateOnly, req.GetLocalRestDay().GetDate())
	if err != nil {
		v.Add("local_rest_day.date", `must be a date "YYYY-MM-DD"`)
	}
	if t := strings.TrimSpace(req.GetLocalRestDay().GetTitle()); t == "" || len([]rune(t)) > 50 {
		v.Add("local_rest_day.title", "is required, at most 50 characters")
	}
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := &schedulingv1.CreateLocalRestDayResponse{}
	err = s.mutate(ctx, caller, "CreateLocalRestDay", rid, "", req, out, func(tx pgx.Tx) error {
		added, err := s.Store.AddLocalRestDay(ctx, tx, day, req.GetLocalRestDay().GetTitle(), caller.Office.ID)
		if err != nil {
			return err
		}
		if !added {
			return rpcerr.New(codes.AlreadyExists, "ALREADY_EXISTS", day.Format(time.DateOnly)+" is already a local day off")
		}
		out.LocalRestDay = &schedulingv1.LocalRestDay{
			Name: "calendar/localRestDays/" + day.Format(time.DateOnly), Date: day.Format(time.DateOnly), Title: req.GetLocalRestDay().GetTitle(),
		}
		return nil
	})
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	if _, err := s.LoadCalendar(ctx); err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	if _, err := s.Recompute(ctx); err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	return out, nil
}

// ListCaseDeadlines lists a case's clocks.
func (s *Server) ListCaseDeadlines(ctx context.Context, req *schedulingv1.ListCaseDeadlinesRequest) (*schedulingv1.ListCaseDeadlinesResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	num, ok := names.CaseNumber(req.GetParent())
	if !ok {
		var v rpcerr.Violations
		v.Add("parent", names.CaseNumberHint)
		return nil, v.Err()
	}
	county, involved, err := s.Store.Involved(ctx, num)
	if errors.Is(err, store.ErrNotFound) || err == nil && !policy.CanSeeCase(caller, county, involved) {
		return nil, rpcerr.ToStatus(rpcerr.ErrCaseNotFound, "parent", req.GetParent())
	}
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	cs, err := s.Store.ForCase(ctx, num)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
	}
	resp := &schedulingv1.ListCaseDeadlinesResponse{}
	for _, c := range cs {
		resp.Deadlines = append(resp.Deadlines, deadline(c))
	}
	return resp, nil
}

// ownOffice checks that caller may read office's lists (its own, or any
// for the bureau).
func (s *Server) ownOffice(caller auth.Caller, v *rpcerr.Violations, parent string) (directory.Office, error) {
	o, ok := s.Dir.OfficeByResource(parent)
	if !ok {
		v.Add("parent", `must name an office of the county, e.g. "offices/330421102"`)
		return o, nil
	}
	if !policy.ForOffice(caller, o.ID) {
		return o, rpcerr.New(codes.PermissionDenied, "OTHER_OFFICE", "an office reads only its own deadlines and reminders", "parent", parent)
	}
	return o, nil
}

// ListOfficeDeadlines lists the running clocks an office must meet.
func (s *Server) ListOfficeDeadlines(ctx context.Context, req *schedulingv1.ListOfficeDeadlinesRequest) (*schedulingv1.ListOfficeDeadlinesResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v rpcerr.Violations
	o, err := s.ownOffice(caller, &v, req.GetParent())
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "deadlines/"+req.GetParent())
	if verr := v.Err(); verr != nil {
		return nil, verr
	}
	if err != nil {
		return nil, err
	}
	cs, err := s.Store.ForOffice(ctx, o.ID, page.Offset, page.Size+1)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
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
	var v rpcerr.Violations
	o, err := s.ownOffice(caller, &v, req.GetParent())
	page := pagination.Read(&v, req.GetPageSize(), req.GetPageToken(), "reminders/"+req.GetParent())
	if verr := v.Err(); verr != nil {
		return nil, verr
	}
	if err != nil {
		return nil, err
	}
	rs, err := s.Store.Reminders(ctx, o.ID, page.Offset, page.Size+1)
	if err != nil {
		return nil, rpcerr.ToStatus(err)
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
	var v rpcerr.Violations
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
		return nil, rpcerr.ToStatus(err)
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
