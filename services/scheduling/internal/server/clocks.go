package server

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/scheduling/internal/clocks"
	"github.com/tongban/tongban/services/scheduling/internal/store"
)

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
		if !s.Today().After(c.DueDate) {
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
