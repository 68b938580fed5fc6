package server

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
)

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
func (s *Server) scopeOf(ctx context.Context, v *fault.Violations, county, township, department string) (scope, error) {
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
		return scope{}, fault.New(fault.PermissionDenied, "ROLE_NOT_ALLOWED", "a "+caller.Role+" may not see the figures")
	}
	switch caller.Office.Kind {
	case directory.Bureau, directory.Prefecture:
	case directory.Township:
		if township != "" && township != caller.Office.ID {
			return scope{}, fault.New(fault.PermissionDenied, "OTHER_TOWNSHIP", "a township sees the figures of its own cases only")
		}
		if department != "" {
			return scope{}, fault.New(fault.PermissionDenied, "OTHER_DEPARTMENT", "a township sees the figures of its own cases only")
		}
		sc = scope{office: caller.Office.ID}
	case directory.Department:
		if sc.office != "" && sc.office != caller.Office.ID || township != "" {
			return scope{}, fault.New(fault.PermissionDenied, "OTHER_DEPARTMENT", "a department sees the figures of its own cases only")
		}
		sc = scope{office: caller.Office.ID, duty: caller.Office.ID}
	default:
		return scope{}, fault.New(fault.PermissionDenied, "OFFICE_KIND_NOT_ALLOWED", "figures are for the petition bureau, townships and departments")
	}
	return sc, nil
}

var allTime = struct{ from, to time.Time }{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)}

var monthPattern = regexp.MustCompile(`^(\d{4})-(0[1-9]|1[0-2])$`)

// parseMonth reads "YYYY-MM" as the first day of the month (UTC, as the
// date columns hold it).
func parseMonth(v *fault.Violations, field, val string) time.Time {
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
func (s *Server) readPeriod(v *fault.Violations, start, end string) period {
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
