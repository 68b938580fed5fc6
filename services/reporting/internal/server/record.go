package server

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/reporting/internal/store"
)

// dutyKinds are the clocks by which an office must act; the others are
// windows the petitioner or a receiving office may use, never overdue.
var dutyKinds = map[assignmentv1.ClockKind]bool{
	assignmentv1.ClockKind_CLOCK_KIND_ROUTING:    true,
	assignmentv1.ClockKind_CLOCK_KIND_ACCEPTANCE: true,
	assignmentv1.ClockKind_CLOCK_KIND_HANDLING:   true,
	assignmentv1.ClockKind_CLOCK_KIND_REVIEW:     true,
	assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW:  true,
	assignmentv1.ClockKind_CLOCK_KIND_REPORT:     true,
}

// Begin starts applying a batch of events of intake's, assignment's or
// scheduling's feed (one consumer transaction) to the read model: the
// cases they concern are read at once, and each is written once at
// Flush. The consumer has deduplicated the events by id; apart from that,
// events of different feeds arrive in any order, so every fact is merged,
// never assumed to come after another.
func (s *Server) Begin(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) (outbox.Batch, error) {
	var numbers []string
	for _, ev := range evs {
		if _, ok := ev.GetPayload().(*eventsv1.Event_LeaderMeeting); !ok && ev.GetCaseNumber() != "" {
			numbers = append(numbers, ev.GetCaseNumber())
		}
	}
	slices.Sort(numbers)
	ch, err := s.Store.Begin(ctx, tx, slices.Compact(numbers))
	if err != nil {
		return nil, err
	}
	return &recorder{s: s, ch: ch}, nil
}

// Record applies one event as a batch of its own.
func (s *Server) Record(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	return outbox.ApplyBatch(ctx, tx, s.Begin, ev)
}

// recorder is one batch's outbox.Batch.
type recorder struct {
	s  *Server
	ch *store.Changes
}

func (r *recorder) Flush(ctx context.Context) error { return r.ch.Flush(ctx) }

// Apply applies one event of the batch.
func (r *recorder) Apply(ctx context.Context, ev *eventsv1.Event) error {
	s, ch, num := r.s, r.ch, ev.GetCaseNumber()
	var err error
	switch p := ev.GetPayload().(type) {
	case *eventsv1.Event_CaseRegistered:
		r := p.CaseRegistered
		err = ch.Change(ctx, num, func(c *store.Case) error {
			c.County, c.Township, c.Topic = r.GetCounty(), r.GetTownship(), r.GetTopic()
			c.ReceiveTime = r.GetReceiveTime().AsTime()
			c.Channel, c.Class = int16(r.GetChannel()), int16(r.GetCaseClass())
			c.HeadCount, c.Group, c.Repeat = r.GetHeadCount(), r.GetGroup(), r.GetRepeatOf() != ""
			office, _ := names.OfficeID(r.GetRegisteredBy())
			c.Involve(office)
			return nil
		})
		if err == nil {
			err = ch.SetClocksTownship(ctx, num, r.GetTownship())
		}
	case *eventsv1.Event_CaseCorrected:
		r := p.CaseCorrected
		err = ch.Change(ctx, num, func(c *store.Case) error {
			if r.GetReceiveTime() != nil {
				c.ReceiveTime = r.GetReceiveTime().AsTime()
			}
			c.HeadCount, c.Topic, c.Group = r.GetHeadCount(), r.GetTopic(), r.GetGroup()
			return nil
		})
	case *eventsv1.Event_CaseRepeatChanged:
		err = ch.Change(ctx, num, func(c *store.Case) error {
			c.Repeat = p.CaseRepeatChanged.GetRepeatOf() != ""
			return nil
		})
	case *eventsv1.Event_CaseMoved:
		err = ch.Change(ctx, num, func(c *store.Case) error { s.move(c, p.CaseMoved); return nil })
	case *eventsv1.Event_ClockChanged:
		err = s.clock(ctx, ch, num, p.ClockChanged)
	case *eventsv1.Event_LeaderMeeting:
		m := p.LeaderMeeting
		err = ch.AddLeaderMeeting(ctx, m.GetCounty(), month(m.GetDate().AsTime()), m.GetOffice(), m.GetLeader(),
			m.GetKind() == eventsv1.LeaderMeetingKind_LEADER_MEETING_KIND_RECEPTION)
	default:
		return nil // holiday notices and future kinds are not figures
	}
	if err != nil {
		return err
	}
	ch.Touch(ev.GetOccurTime().AsTime())
	return nil
}

// move merges one of assignment's moves into the case's facts. A feed is
// ordered, so a move older than the last one applied (a replay that
// escaped deduplication) leaves the state alone.
func (s *Server) move(c *store.Case, mv *eventsv1.CaseMoved) {
	if c.County == "" {
		c.County, c.Township = mv.GetCounty(), mv.GetTownship()
	}
	c.Involve(policy.MoveParties(mv)...) // whatever the order: parties only join
	e := mv.GetEntry()
	switch e.GetAction() {
	case assignmentv1.Action_ACTION_REFER_UP:
		c.ReferredUp = true
	case assignmentv1.Action_ACTION_ANSWER:
		c.Answered = true
	case assignmentv1.Action_ACTION_EVALUATE:
		c.Rating = int16(mv.GetRating())
	case assignmentv1.Action_ACTION_REQUEST_REVIEW:
		c.Reviewed = true
	case assignmentv1.Action_ACTION_REQUEST_RE_REVIEW:
		c.ReReviewed = true
	}
	if e.GetSequence() <= c.LastSeq {
		return
	}
	c.LastSeq, c.State = e.GetSequence(), int16(e.GetToState())
	if o, ok := s.Dir.OfficeByResource(e.GetToOffice()); ok && o.Kind == directory.Department {
		c.Department = o.ID
	}
}

// clock stores a clock and updates the case's on-time status of its kind.
// Late is final: a clock that ran past its due time keeps the case late
// even when a later clock of the kind (after a return for rework, say)
// is kept.
func (s *Server) clock(ctx context.Context, ch *store.Changes, num string, cc *eventsv1.ClockChanged) error {
	d := cc.GetDeadline()
	office, _ := names.OfficeID(d.GetOffice())
	c := &store.Clock{
		CaseNumber: num, Kind: int16(d.GetKind()), County: cc.GetCounty(), Office: office, Duty: dutyKinds[d.GetKind()],
		StartTime: d.GetStartTime().AsTime(), DueTime: d.GetDueTime().AsTime(), Overdue: d.GetOverdue(),
		Provisional: d.GetProvisional(), ExtensionDays: d.GetExtensionDays(), Rule: d.GetRule(), Version: cc.GetVersion(),
	}
	if d.GetStopTime() != nil {
		t := d.GetStopTime().AsTime()
		c.StopTime = &t
	}
	if d.GetPauseTime() != nil {
		t := d.GetPauseTime().AsTime()
		c.PauseTime = &t
	}
	saved, err := ch.SaveClock(ctx, c)
	if err != nil || !saved {
		return err // an older state of the clock than the one kept changes nothing
	}
	var field func(*store.Case) *int16
	switch d.GetKind() {
	case assignmentv1.ClockKind_CLOCK_KIND_ROUTING:
		field = func(c *store.Case) *int16 { return &c.Routing }
	case assignmentv1.ClockKind_CLOCK_KIND_ACCEPTANCE:
		field = func(c *store.Case) *int16 { return &c.Acceptance }
	case assignmentv1.ClockKind_CLOCK_KIND_HANDLING:
		field = func(c *store.Case) *int16 { return &c.Handling }
	default:
		return nil
	}
	return ch.Change(ctx, num, func(k *store.Case) error {
		if k.County == "" {
			k.County = cc.GetCounty()
		}
		f := field(k)
		switch {
		case *f == store.Late, c.Overdue:
			*f = store.Late
		case c.StopTime != nil && !c.StopTime.After(c.DueTime):
			*f = store.OnTime
		case c.StopTime != nil:
			*f = store.Late
		default:
			*f = store.Pending
		}
		return nil
	})
}

// month is the first day of t's month in China.
func month(t time.Time) time.Time {
	t = t.In(calendar.China)
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
