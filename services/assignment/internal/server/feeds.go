package server

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/lifecycle"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/tracing"
)

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
