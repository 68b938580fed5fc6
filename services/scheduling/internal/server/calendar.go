package server

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/outbox"
)

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
		var v fault.Violations
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

// ImportHolidayNotice loads a year's holiday notice at run time.
func (s *Server) ImportHolidayNotice(ctx context.Context, req *schedulingv1.ImportHolidayNoticeRequest) (*schedulingv1.ImportHolidayNoticeResponse, error) {
	caller, err := policy.Require(ctx, policy.Configure)
	if err != nil {
		return nil, err
	}
	if caller.Office.Kind != directory.Bureau {
		return nil, fault.New(fault.PermissionDenied, "BUREAU_ONLY", "only the county petition bureau loads holiday notices")
	}
	var v fault.Violations
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
			return fault.New(fault.AlreadyExists, "ALREADY_EXISTS", strconv.Itoa(n.Year)+"'s notice is already loaded")
		}
		return outbox.Append(ctx, tx, &eventsv1.Event{Payload: &eventsv1.Event_HolidayNoticeImported{
			HolidayNoticeImported: &eventsv1.HolidayNoticeImported{Year: int32(n.Year), Text: req.GetText()},
		}})
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.LoadCalendar(ctx); err != nil {
		return nil, err
	}
	moved, err := s.Recompute(ctx)
	if err != nil {
		return nil, err
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
		return nil, fault.New(fault.PermissionDenied, "BUREAU_ONLY", "only the county petition bureau adds local days off")
	}
	var v fault.Violations
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
			return fault.New(fault.AlreadyExists, "ALREADY_EXISTS", day.Format(time.DateOnly)+" is already a local day off")
		}
		out.LocalRestDay = &schedulingv1.LocalRestDay{
			Name: "calendar/localRestDays/" + day.Format(time.DateOnly), Date: day.Format(time.DateOnly), Title: req.GetLocalRestDay().GetTitle(),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.LoadCalendar(ctx); err != nil {
		return nil, err
	}
	if _, err := s.Recompute(ctx); err != nil {
		return nil, err
	}
	return out, nil
}
