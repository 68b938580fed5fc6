package server

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/platform/authtest"
	"github.com/tongban/tongban/services/platform/calendar"
)

func TestGetCalendarDay(t *testing.T) {
	t.Parallel()
	s := &Server{Calendar: calendar.Official()}
	ctx := authtest.As(t, "demo-dayun")
	tests := []struct {
		name        string
		code        codes.Code
		kind        schedulingv1.DayKind
		working     bool
		provisional bool
	}{
		{"calendar/days/2026-10-07", codes.OK, schedulingv1.DayKind_DAY_KIND_HOLIDAY, false, false},
		{"calendar/days/2026-10-10", codes.OK, schedulingv1.DayKind_DAY_KIND_MAKEUP_WORKDAY, true, false},
		{"calendar/days/2026-11-21", codes.OK, schedulingv1.DayKind_DAY_KIND_WEEKEND, false, false},
		{"calendar/days/2027-03-01", codes.OK, schedulingv1.DayKind_DAY_KIND_WORKDAY, true, true},
		{"calendar/days/2026-13-01", codes.InvalidArgument, 0, false, false},
		{"days/2026-10-07", codes.InvalidArgument, 0, false, false},
	}
	for _, tc := range tests {
		resp, err := s.GetCalendarDay(ctx, &schedulingv1.GetCalendarDayRequest{Name: tc.name})
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
			continue
		}
		d := resp.GetDay()
		if err == nil && (d.GetKind() != tc.kind || d.GetWorkingDay() != tc.working || d.GetProvisional() != tc.provisional) {
			t.Errorf("%s: %v", tc.name, d)
		}
	}
}
