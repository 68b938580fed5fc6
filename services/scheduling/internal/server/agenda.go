// An office's agenda: its receptions, appointments and deadlines, as JSON
// and as iCalendar.

package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/types/known/timestamppb"

	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/scheduling/internal/reception"
)

// agenda collects an office's receptions, appointments and deadlines.
func (s *Server) agenda(ctx context.Context, name, fromDate, toDate string) ([]*schedulingv1.AgendaItem, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	parent, isAgenda := strings.CutSuffix(name, "/agenda")
	if !isAgenda {
		v.Add("name", `must be "offices/{office}/agenda"`)
	}
	o, err := reception.OwnOffice(s.Dir, caller, &v, parent)
	from, to := s.Today(), s.Today().AddDate(0, 0, 60)
	if fromDate != "" {
		from = reception.Date(&v, "from_date", fromDate)
	}
	if toDate != "" {
		to = reception.Date(&v, "to_date", toDate)
	}
	if to.Before(from) || to.After(from.AddDate(0, 0, 400)) {
		v.Add("to_date", "must be on or after from_date, at most 400 days on")
	}
	if verr := v.Err(); verr != nil {
		return nil, verr
	}
	if err != nil {
		return nil, err
	}
	var items []*schedulingv1.AgendaItem
	rs, err := s.Receptions(ctx, o.ID, from, to)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		d, _ := time.ParseInLocation(time.DateOnly, r.GetDate(), calendar.China)
		items = append(items, &schedulingv1.AgendaItem{Kind: "reception", Title: r.GetLeaderTitle() + r.GetLeader() + " " + r.GetTitle() + "（" + r.GetPlace() + "）",
			StartTime: timestamppb.New(d), Resource: r.GetName()})
	}
	as, err := s.Store.Appointments(ctx, time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, calendar.China),
		time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, calendar.China).AddDate(0, 0, 1), o.ID, "")
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		items = append(items, &schedulingv1.AgendaItem{Kind: "appointment", Title: a.LeaderTitle + a.Leader + " 约访 " + a.CaseNumber + "（" + a.Place + "）",
			StartTime: timestamppb.New(a.StartTime), Resource: "appointments/" + strconv.FormatInt(a.ID, 10)})
	}
	// The deadlines of the range alone: reading every open clock (capped at
	// 1,000) and filtering here lost a busy office's later deadlines.
	cs, err := s.Store.DueBetween(ctx, o.ID, from, to)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		d := deadline(c)
		items = append(items, &schedulingv1.AgendaItem{Kind: "deadline", Title: clockTitles[d.GetKind()] + "期限 " + c.CaseNumber,
			StartTime: d.GetDueTime(), Resource: names.Case(c.CaseNumber)})
	}
	sortBy(items, func(i *schedulingv1.AgendaItem) string {
		return i.GetStartTime().AsTime().UTC().Format(time.RFC3339) + i.GetResource()
	})
	return items, nil
}

// GetOfficeAgenda returns an office's agenda.
func (s *Server) GetOfficeAgenda(ctx context.Context, req *schedulingv1.GetOfficeAgendaRequest) (*schedulingv1.GetOfficeAgendaResponse, error) {
	items, err := s.agenda(ctx, req.GetName(), req.GetFromDate(), req.GetToDate())
	if err != nil {
		return nil, err
	}
	return &schedulingv1.GetOfficeAgendaResponse{Items: items}, nil
}

// GetOfficeAgendaIcs returns the agenda as iCalendar (RFC 5545).
func (s *Server) GetOfficeAgendaIcs(ctx context.Context, req *schedulingv1.GetOfficeAgendaIcsRequest) (*httpbody.HttpBody, error) {
	items, err := s.agenda(ctx, req.GetName(), req.GetFromDate(), req.GetToDate())
	if err != nil {
		return nil, err
	}
	return &httpbody.HttpBody{ContentType: "text/calendar; charset=utf-8", Data: []byte(ICS(req.GetName(), items, s.Now()))}, nil
}

// ICS renders agenda items as an iCalendar: receptions and deadlines as
// all-day events (in China's date), appointments at their time.
func ICS(name string, items []*schedulingv1.AgendaItem, now time.Time) string {
	var b strings.Builder
	line := func(s string) {
		// Fold at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character.
		for len(s) > 75 {
			cut := 75
			for cut > 0 && s[cut]&0xC0 == 0x80 {
				cut--
			}
			b.WriteString(s[:cut] + "\r\n")
			s = " " + s[cut:]
		}
		b.WriteString(s + "\r\n")
	}
	esc := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`)
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Tongban//" + name + "//ZH")
	line("CALSCALE:GREGORIAN")
	line("X-WR-CALNAME:" + esc.Replace(name))
	stamp := now.UTC().Format("20060102T150405Z")
	for _, it := range items {
		line("BEGIN:VEVENT")
		line("UID:" + esc.Replace(it.GetKind()+"/"+it.GetResource()+"/"+it.GetStartTime().AsTime().UTC().Format(time.RFC3339)) + "@tongban")
		line("DTSTAMP:" + stamp)
		t := it.GetStartTime().AsTime()
		if it.GetKind() == "appointment" {
			line("DTSTART:" + t.UTC().Format("20060102T150405Z"))
			line("DTEND:" + t.Add(time.Hour).UTC().Format("20060102T150405Z"))
		} else {
			d := t.In(calendar.China)
			line("DTSTART;VALUE=DATE:" + d.Format("20060102"))
			line("DTEND;VALUE=DATE:" + d.AddDate(0, 0, 1).Format("20060102"))
		}
		line("SUMMARY:" + esc.Replace(it.GetTitle()))
		line("CATEGORIES:" + it.GetKind())
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	return b.String()
}
