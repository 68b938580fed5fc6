// Package server implements tongban.scheduling.v1.SchedulingService.
package server

import (
	"context"
	"strings"
	"time"

	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/calendar"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// Server implements SchedulingService.
type Server struct {
	schedulingv1.UnimplementedSchedulingServiceServer
	Calendar *calendar.Calendar
}

var kinds = map[calendar.Kind]schedulingv1.DayKind{
	calendar.Workday:       schedulingv1.DayKind_DAY_KIND_WORKDAY,
	calendar.Weekend:       schedulingv1.DayKind_DAY_KIND_WEEKEND,
	calendar.Holiday:       schedulingv1.DayKind_DAY_KIND_HOLIDAY,
	calendar.MakeupWorkday: schedulingv1.DayKind_DAY_KIND_MAKEUP_WORKDAY,
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
	d := s.Calendar.Day(t)
	return &schedulingv1.GetCalendarDayResponse{Day: &schedulingv1.CalendarDay{
		Name:        req.GetName(),
		Date:        date,
		WorkingDay:  d.Working(),
		Kind:        kinds[d.Kind],
		Holiday:     d.Holiday,
		Provisional: d.Provisional,
	}}, nil
}
