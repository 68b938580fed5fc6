// Package reception serves the county's reception days (领导接待日): rosters
// of leaders' days, the applications townships file for petitioners and
// their classification, the notices sent before a day, the meetings held,
// and leaders' appointments (约访). Its Server is embedded in scheduling's,
// whose methods these are; an office's agenda, which also shows the
// statutory deadlines, stays with the scheduling server.
package reception

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/scheduling/internal/roster"
	"github.com/tongban/tongban/services/scheduling/internal/store"
)

// Server serves the reception days, applications, notices and appointments
// of SchedulingService.
type Server struct {
	Store *store.Store
	Dir   *directory.Directory
	// Calendar is the calendar in force (the scheduling server's).
	Calendar func() *calendar.Calendar
	// Now is the clock of the jobs (the scheduling server's, so that tests
	// move one clock).
	Now func() time.Time
	// Notifier delivers reception notices.
	Notifier Notifier
	// Mutate runs fn as one idempotent, audited change of the scheduling
	// service (its transaction shape, shared with the calendar's methods).
	Mutate func(ctx context.Context, caller auth.Caller, method, rid, caseNumber string, req, out proto.Message, fn func(tx pgx.Tx) error) error
}

// Today is China's date by the service's clock: the one "today" of
// scheduling (its jobs, its agenda, a reception's date).
func (s *Server) Today() time.Time { return calendar.DateOf(s.Now()) }

// OwnOffice is the office parent names, which the caller must be (or
// oversee): the check of every per-office read of scheduling.
func OwnOffice(dir *directory.Directory, caller auth.Caller, v *fault.Violations, parent string) (directory.Office, error) {
	o, ok := dir.OfficeByResource(parent)
	if !ok {
		v.Add("parent", `must name an office of the county, e.g. "offices/330421102"`)
		return o, nil
	}
	if !policy.ForOffice(caller, o.ID) {
		return o, fault.New(fault.PermissionDenied, "OTHER_OFFICE", "an office reads only its own deadlines and reminders", "parent", parent)
	}
	return o, nil
}

// Notifier delivers a notice through a channel (SMS, letter, an app) and
// names the channel; the notice itself is the stored record.
type Notifier interface {
	Send(ctx context.Context, n *store.Notice) (channel string, err error)
}

// RecordOnly is the notifier of a county without a gateway to SMS or post:
// the notice is kept as a record for the office to print and send.
type RecordOnly struct{}

// Send implements Notifier.
func (RecordOnly) Send(context.Context, *store.Notice) (string, error) { return "letter", nil }

// booked are the statuses that hold a place at a reception.
var booked = []int16{int16(schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_RECEPTION), int16(schedulingv1.ApplicationStatus_APPLICATION_STATUS_MET)}

// ExpectedAppointments is how many appointments a leader is expected to
// make a month (the seeds' county).
const ExpectedAppointments = 2

func rosterName(id int64) string { return "receptionRosters/" + strconv.FormatInt(id, 10) }

func receptionName(id int64, scheduled time.Time) string {
	return rosterName(id) + "/receptions/" + scheduled.Format(time.DateOnly)
}

func applicationName(a *store.Application) string {
	return receptionName(a.RosterID, a.ScheduledDate) + "/applications/" + strconv.FormatInt(a.ID, 10)
}

// parseReception reads "receptionRosters/{id}/receptions/{date}[/applications/{n}]".
func parseReception(name string, withApplication bool) (rosterID int64, date time.Time, app int64, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 && !withApplication || len(parts) != 6 && withApplication || parts[0] != "receptionRosters" || parts[2] != "receptions" {
		return 0, time.Time{}, 0, false
	}
	id, err1 := strconv.ParseInt(parts[1], 10, 64)
	d, err2 := time.Parse(time.DateOnly, parts[3])
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, 0, false
	}
	if withApplication {
		n, err := strconv.ParseInt(parts[5], 10, 64)
		if err != nil || parts[4] != "applications" {
			return 0, time.Time{}, 0, false
		}
		app = n
	}
	return id, d, app, true
}

func pattern(r *store.Roster) roster.Pattern {
	return roster.Pattern{Monthly: r.Monthly, Weekday: time.Weekday(r.Weekday % 7), WeekOfMonth: int(r.WeekOfMonth), Start: r.StartDate, End: r.EndDate}
}

// Date is the date val ("YYYY-MM-DD"), or a violation of field.
func Date(v *fault.Violations, field, val string) time.Time {
	d, err := time.Parse(time.DateOnly, val)
	if err != nil {
		v.Add(field, `must be a date "YYYY-MM-DD"`)
	}
	return d
}

func text(v *fault.Violations, field, val string, max int) {
	if n := len([]rune(strings.TrimSpace(val))); n == 0 || n > max {
		v.Add(field, "is required, at most "+strconv.Itoa(max)+" characters")
	}
}

// clerk refuses service accounts.
func clerk(ctx context.Context) (auth.Caller, error) {
	return policy.Require(ctx, policy.Register)
}

// CreateReceptionRoster publishes a roster for the caller's office.
func (s *Server) CreateReceptionRoster(ctx context.Context, req *schedulingv1.CreateReceptionRosterRequest) (*schedulingv1.CreateReceptionRosterResponse, error) {
	caller, err := clerk(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetRoster()
	var v fault.Violations
	text(&v, "roster.title", in.GetTitle(), 50)
	text(&v, "roster.leader", in.GetLeader(), 30)
	text(&v, "roster.leader_title", in.GetLeaderTitle(), 30)
	text(&v, "roster.place", in.GetPlace(), 100)
	monthly := in.GetRecurrence() == schedulingv1.Recurrence_RECURRENCE_MONTHLY
	switch {
	case in.GetRecurrence() != schedulingv1.Recurrence_RECURRENCE_WEEKLY && !monthly:
		v.Add("roster.recurrence", "is required: RECURRENCE_WEEKLY or RECURRENCE_MONTHLY")
	case monthly && (in.GetWeekOfMonth() < 1 || in.GetWeekOfMonth() > 4):
		v.Add("roster.week_of_month", "must be 1 to 4 for a monthly roster")
	}
	if in.GetWeekday() < 1 || in.GetWeekday() > 7 {
		v.Add("roster.weekday", "must be 1 (Monday) to 7 (Sunday)")
	}
	if in.GetSlots() < 1 || in.GetSlots() > 200 {
		v.Add("roster.slots", "must be 1 to 200")
	}
	start, end := Date(&v, "roster.start_date", in.GetStartDate()), Date(&v, "roster.end_date", in.GetEndDate())
	if !start.IsZero() && !end.IsZero() && (end.Before(start) || end.After(start.AddDate(2, 0, 0))) {
		v.Add("roster.end_date", "must be after start_date, at most two years on")
	}
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := &schedulingv1.CreateReceptionRosterResponse{}
	err = s.Mutate(ctx, caller, "CreateReceptionRoster", rid, "", req, out, func(tx pgx.Tx) error {
		r := &store.Roster{
			Title: in.GetTitle(), Leader: in.GetLeader(), LeaderTitle: in.GetLeaderTitle(), Office: caller.Office.ID, Place: in.GetPlace(),
			Monthly: monthly, Weekday: int16(in.GetWeekday()), WeekOfMonth: int16(in.GetWeekOfMonth()), StartDate: start, EndDate: end, Slots: in.GetSlots(),
		}
		if err := s.Store.CreateRoster(ctx, tx, r); err != nil {
			return err
		}
		out.Roster = rosterProto(r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func rosterProto(r *store.Roster) *schedulingv1.ReceptionRoster {
	rec := schedulingv1.Recurrence_RECURRENCE_WEEKLY
	if r.Monthly {
		rec = schedulingv1.Recurrence_RECURRENCE_MONTHLY
	}
	return &schedulingv1.ReceptionRoster{
		Name: rosterName(r.ID), Title: r.Title, Leader: r.Leader, LeaderTitle: r.LeaderTitle, Office: names.Office(r.Office),
		Place: r.Place, Recurrence: rec, Weekday: int32(r.Weekday), WeekOfMonth: int32(r.WeekOfMonth),
		StartDate: r.StartDate.Format(time.DateOnly), EndDate: r.EndDate.Format(time.DateOnly), Slots: r.Slots,
	}
}

// receptions expands the rosters of office (or all) between from and to.
func (s *Server) Receptions(ctx context.Context, office string, from, to time.Time) ([]*schedulingv1.Reception, error) {
	rosters, err := s.Store.Rosters(ctx, office, from, to)
	if err != nil {
		return nil, err
	}
	var out []*schedulingv1.Reception
	for _, r := range rosters {
		counts, err := s.Store.Booked(ctx, r.ID, booked)
		if err != nil {
			return nil, err
		}
		for _, o := range pattern(r).Occurrences(s.Calendar(), from, to) {
			out = append(out, &schedulingv1.Reception{
				Name: receptionName(r.ID, o.Scheduled), Title: r.Title, Leader: r.Leader, LeaderTitle: r.LeaderTitle,
				Office: names.Office(r.Office), Place: r.Place, Date: o.Date.Format(time.DateOnly), ScheduledDate: o.Scheduled.Format(time.DateOnly),
				Shifted: o.Shifted(), Slots: r.Slots, Booked: counts[o.Scheduled.Format(time.DateOnly)], Provisional: o.Provisional,
			})
		}
	}
	slices.SortStableFunc(out, func(a, b *schedulingv1.Reception) int {
		return strings.Compare(a.GetDate()+a.GetName(), b.GetDate()+b.GetName())
	})
	return out, nil
}

// ListReceptions lists receptions between two dates.
func (s *Server) ListReceptions(ctx context.Context, req *schedulingv1.ListReceptionsRequest) (*schedulingv1.ListReceptionsResponse, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	var v fault.Violations
	from, to := Date(&v, "from_date", req.GetFromDate()), Date(&v, "to_date", req.GetToDate())
	if to.Before(from) || to.After(from.AddDate(0, 0, 400)) {
		v.Add("to_date", "must be on or after from_date, at most 400 days on")
	}
	office := ""
	if req.GetOffice() != "" {
		o, ok := s.Dir.OfficeByResource(req.GetOffice())
		if !ok {
			v.Add("office", `must name an office of the county, e.g. "offices/330421.xfj"`)
		}
		office = o.ID
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	rs, err := s.Receptions(ctx, office, from, to)
	if err != nil {
		return nil, err
	}
	return &schedulingv1.ListReceptionsResponse{Receptions: rs}, nil
}

// seeCase checks that caller may see the case (as the clocks' projection of
// assignment's moves knows it).
func (s *Server) seeCase(ctx context.Context, caller auth.Caller, v *fault.Violations, field, name string) (string, error) {
	num, ok := names.CaseNumber(name)
	if !ok {
		v.Add(field, names.CaseNumberHint)
		return "", nil
	}
	county, involved, err := s.Store.Involved(ctx, num)
	if err != nil || !policy.CanSeeCase(caller, county, involved) {
		return "", fault.CaseNotFound(field, name)
	}
	return num, nil
}

// CreateReceptionApplication applies for a reception about a case.
func (s *Server) CreateReceptionApplication(ctx context.Context, req *schedulingv1.CreateReceptionApplicationRequest) (*schedulingv1.CreateReceptionApplicationResponse, error) {
	caller, err := clerk(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	rosterID, scheduled, _, ok := parseReception(req.GetParent(), false)
	if !ok {
		v.Add("parent", `must be "receptionRosters/{id}/receptions/{yyyy-mm-dd}"`)
	}
	num, seeErr := s.seeCase(ctx, caller, &v, "application.case", req.GetApplication().GetCase())
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if seeErr != nil {
		return nil, seeErr
	}
	r, err := s.Store.Roster(ctx, rosterID)
	if err != nil {
		return nil, fault.New(fault.NotFound, "RECEPTION_NOT_FOUND", "no such reception: "+req.GetParent(), "parent", req.GetParent())
	}
	var held *roster.Occurrence
	for _, o := range pattern(r).Occurrences(s.Calendar(), scheduled, scheduled.AddDate(0, 0, 31)) {
		if o.Scheduled.Equal(scheduled) {
			held = &o
			break
		}
	}
	switch {
	case held == nil:
		return nil, fault.New(fault.NotFound, "RECEPTION_NOT_FOUND", "the roster holds no reception on "+scheduled.Format(time.DateOnly), "parent", req.GetParent())
	case held.Date.Before(s.Today()):
		return nil, fault.New(fault.FailedPrecondition, "RECEPTION_PAST", "that reception was held on "+held.Date.Format(time.DateOnly))
	}
	out := &schedulingv1.CreateReceptionApplicationResponse{}
	err = s.Mutate(ctx, caller, "CreateReceptionApplication", rid, num, req, out, func(tx pgx.Tx) error {
		a := &store.Application{
			RosterID: r.ID, ScheduledDate: scheduled, HeldDate: held.Date, CaseNumber: num, Office: caller.Office.ID,
			Status: int16(schedulingv1.ApplicationStatus_APPLICATION_STATUS_SUBMITTED),
		}
		if err := s.Store.CreateApplication(ctx, tx, a); err != nil {
			return err
		}
		out.Application = applicationProto(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func applicationProto(a *store.Application) *schedulingv1.ReceptionApplication {
	return &schedulingv1.ReceptionApplication{
		Name: applicationName(a), Case: names.Case(a.CaseNumber), Status: schedulingv1.ApplicationStatus(a.Status),
		Decision: a.Decision, MeetingRecord: a.MeetingRecord, Date: a.HeldDate.Format(time.DateOnly), CreateTime: timestamppb.New(a.CreateTime),
	}
}

// hosted runs fn on an application of a reception the caller's office
// hosts (or any, for the bureau), locked, and saves it.
func (s *Server) hosted(ctx context.Context, name string, fn func(tx pgx.Tx, r *store.Roster, a *store.Application, bookedNow int) error) (*schedulingv1.ReceptionApplication, error) {
	caller, err := clerk(ctx)
	if err != nil {
		return nil, err
	}
	rosterID, _, appID, ok := parseReception(name, true)
	if !ok {
		var v fault.Violations
		v.Add("name", `must be "receptionRosters/{id}/receptions/{yyyy-mm-dd}/applications/{n}"`)
		return nil, v.Err()
	}
	r, err := s.Store.Roster(ctx, rosterID)
	if err == nil && r.Office != caller.Office.ID && caller.Office.Kind != directory.Bureau {
		return nil, fault.New(fault.PermissionDenied, "NOT_HOST", "only the hosting office ("+names.Office(r.Office)+") classifies and records applications")
	}
	if err != nil {
		return nil, fault.New(fault.NotFound, "APPLICATION_NOT_FOUND", "no such application: "+name, "name", name)
	}
	var out *schedulingv1.ReceptionApplication
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		a, n, err := s.Store.LockApplication(ctx, tx, appID, booked)
		if err != nil || a.RosterID != rosterID || applicationName(a) != name {
			return fault.New(fault.NotFound, "APPLICATION_NOT_FOUND", "no such application: "+name, "name", name)
		}
		if err := fn(tx, r, a, n); err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, audit.FromCall(ctx, audit.Schedule, a.CaseNumber, "", "application="+name+" status="+schedulingv1.ApplicationStatus(a.Status).String())); err != nil {
			return err
		}
		if err := s.Store.SaveApplication(ctx, tx, a); err != nil {
			return err
		}
		out = applicationProto(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ClassifyReceptionApplication decides where an application goes; booked
// for the leader, the notices are scheduled: the leader's 2 working days
// before, the petitioner's 1 day before, each at 09:00.
func (s *Server) ClassifyReceptionApplication(ctx context.Context, req *schedulingv1.ClassifyReceptionApplicationRequest) (*schedulingv1.ClassifyReceptionApplicationResponse, error) {
	var v fault.Violations
	switch req.GetStatus() {
	case schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_RECEPTION:
	case schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_DEPARTMENT:
		if o, ok := s.Dir.OfficeByResource(req.GetDecision()); !ok || o.Kind != directory.Department {
			v.Add("decision", `must name the department, e.g. "offices/330421.zjj"`)
		}
	case schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_STATUTORY_CHANNEL:
		text(&v, "decision", req.GetDecision(), 500)
	default:
		v.Add("status", "must be TO_RECEPTION, TO_DEPARTMENT or TO_STATUTORY_CHANNEL")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	a, err := s.hosted(ctx, req.GetName(), func(tx pgx.Tx, r *store.Roster, a *store.Application, n int) error {
		if a.Status != int16(schedulingv1.ApplicationStatus_APPLICATION_STATUS_SUBMITTED) {
			return fault.New(fault.FailedPrecondition, "ALREADY_CLASSIFIED", "the application was classified already ("+schedulingv1.ApplicationStatus(a.Status).String()+")")
		}
		a.Status, a.Decision = int16(req.GetStatus()), req.GetDecision()
		if req.GetStatus() != schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_RECEPTION {
			return nil
		}
		if n >= int(r.Slots) {
			return fault.New(fault.FailedPrecondition, "RECEPTION_FULL", "the reception on "+a.HeldDate.Format(time.DateOnly)+" is full ("+strconv.Itoa(int(r.Slots))+" places)")
		}
		at9 := func(d time.Time) time.Time {
			return time.Date(d.Year(), d.Month(), d.Day(), 9, 0, 0, 0, calendar.China)
		}
		held := a.HeldDate.Format("2006年1月2日")
		for _, n := range []*store.Notice{
			{Kind: int16(schedulingv1.NoticeKind_NOTICE_KIND_LEADER), DueTime: at9(s.Calendar().WorkingDaysBefore(a.HeldDate, 2)),
				Text: fmt.Sprintf("%s%s：%s在%s（%s）接待信访人，事项 %s。", r.LeaderTitle, r.Leader, held, r.Place, r.Title, a.CaseNumber)},
			{Kind: int16(schedulingv1.NoticeKind_NOTICE_KIND_PETITIONER), DueTime: at9(a.HeldDate.AddDate(0, 0, -1)),
				Text: fmt.Sprintf("您的信访事项（编号 %s）已安排于%s在%s由%s%s接待，请携带相关材料按时到场。", a.CaseNumber, held, r.Place, r.LeaderTitle, r.Leader)},
		} {
			n.ApplicationID, n.CaseNumber, n.Office = a.ID, a.CaseNumber, r.Office
			if err := s.Store.AddNotice(ctx, tx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &schedulingv1.ClassifyReceptionApplicationResponse{Application: a}, nil
}

// RecordReceptionMeeting records the meeting of a booked application.
func (s *Server) RecordReceptionMeeting(ctx context.Context, req *schedulingv1.RecordReceptionMeetingRequest) (*schedulingv1.RecordReceptionMeetingResponse, error) {
	var v fault.Violations
	text(&v, "meeting_record", req.GetMeetingRecord(), 20000)
	if err := v.Err(); err != nil {
		return nil, err
	}
	a, err := s.hosted(ctx, req.GetName(), func(tx pgx.Tx, r *store.Roster, a *store.Application, _ int) error {
		if a.Status != int16(schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_RECEPTION) {
			return fault.New(fault.FailedPrecondition, "NOT_BOOKED", "only an application booked for the reception has a meeting to record")
		}
		a.Status, a.MeetingRecord = int16(schedulingv1.ApplicationStatus_APPLICATION_STATUS_MET), req.GetMeetingRecord()
		return s.publishMeeting(ctx, tx, eventsv1.LeaderMeetingKind_LEADER_MEETING_KIND_RECEPTION, a.CaseNumber, r.Leader, r.Office, a.HeldDate)
	})
	if err != nil {
		return nil, err
	}
	return &schedulingv1.RecordReceptionMeetingResponse{Application: a}, nil
}

// publishMeeting writes the LeaderMeeting event of a reception meeting or
// an appointment, for reporting's statistics per leader.
func (s *Server) publishMeeting(ctx context.Context, tx pgx.Tx, kind eventsv1.LeaderMeetingKind, caseNumber, leader, office string, day time.Time) error {
	return outbox.Append(ctx, tx, &eventsv1.Event{
		CaseNumber: caseNumber,
		Payload: &eventsv1.Event_LeaderMeeting{LeaderMeeting: &eventsv1.LeaderMeeting{
			County: s.Dir.County.Code, Kind: kind, Leader: leader, Office: names.Office(office), Date: timestamppb.New(day),
		}},
	})
}

// sendNotices sends the notices that are due, once each across replicas.
func (s *Server) SendNotices(ctx context.Context) (int, error) {
	sent := 0
	err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		due, err := s.Store.ClaimNotices(ctx, tx, s.Now(), 100)
		if err != nil {
			return err
		}
		for _, n := range due {
			channel, err := s.Notifier.Send(ctx, n)
			if err != nil {
				return err
			}
			if err := s.Store.MarkSent(ctx, tx, n.ID, channel); err != nil {
				return err
			}
		}
		sent = len(due)
		return nil
	})
	return sent, err
}

// ListNotices lists the notices of an office's receptions.
func (s *Server) ListNotices(ctx context.Context, req *schedulingv1.ListNoticesRequest) (*schedulingv1.ListNoticesResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	o, err := OwnOffice(s.Dir, caller, &v, req.GetParent())
	if verr := v.Err(); verr != nil {
		return nil, verr
	}
	if err != nil {
		return nil, err
	}
	ns, err := s.Store.Notices(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	resp := &schedulingv1.ListNoticesResponse{}
	for _, n := range ns {
		out := &schedulingv1.Notice{
			Name: "notices/" + strconv.FormatInt(n.ID, 10), Kind: schedulingv1.NoticeKind(n.Kind), Case: names.Case(n.CaseNumber),
			Text: n.Text, DueTime: timestamppb.New(n.DueTime), Channel: n.Channel, Office: names.Office(n.Office),
			Application: applicationName(&store.Application{ID: n.ApplicationID, RosterID: n.RosterID, ScheduledDate: n.ScheduledDate}),
		}
		if n.SendTime != nil {
			out.SendTime = timestamppb.New(*n.SendTime)
		}
		resp.Notices = append(resp.Notices, out)
	}
	return resp, nil
}

// CreateAppointment books a leader's appointment about a case.
func (s *Server) CreateAppointment(ctx context.Context, req *schedulingv1.CreateAppointmentRequest) (*schedulingv1.CreateAppointmentResponse, error) {
	caller, err := clerk(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetAppointment()
	var v fault.Violations
	text(&v, "appointment.leader", in.GetLeader(), 30)
	text(&v, "appointment.leader_title", in.GetLeaderTitle(), 30)
	text(&v, "appointment.place", in.GetPlace(), 100)
	if in.GetStartTime() == nil || in.GetStartTime().CheckValid() != nil {
		v.Add("appointment.start_time", "is required")
	}
	num, seeErr := s.seeCase(ctx, caller, &v, "appointment.case", in.GetCase())
	rid := idempotency.Checked(ctx, req.GetRequestId(), &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if seeErr != nil {
		return nil, seeErr
	}
	out := &schedulingv1.CreateAppointmentResponse{}
	err = s.Mutate(ctx, caller, "CreateAppointment", rid, num, req, out, func(tx pgx.Tx) error {
		a := &store.Appointment{
			Leader: in.GetLeader(), LeaderTitle: in.GetLeaderTitle(), CaseNumber: num, StartTime: in.GetStartTime().AsTime(),
			Place: in.GetPlace(), Office: caller.Office.ID,
		}
		if err := s.Store.CreateAppointment(ctx, tx, a); err != nil {
			return err
		}
		if err := s.publishMeeting(ctx, tx, eventsv1.LeaderMeetingKind_LEADER_MEETING_KIND_APPOINTMENT, num, a.Leader, a.Office, calendar.DateOf(a.StartTime)); err != nil {
			return err
		}
		out.Appointment = appointmentProto(a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func appointmentProto(a *store.Appointment) *schedulingv1.Appointment {
	return &schedulingv1.Appointment{
		Name: "appointments/" + strconv.FormatInt(a.ID, 10), Leader: a.Leader, LeaderTitle: a.LeaderTitle, Case: names.Case(a.CaseNumber),
		StartTime: timestamppb.New(a.StartTime), Place: a.Place, Office: names.Office(a.Office),
	}
}

// ListAppointments lists a month's appointments of the cases the caller
// may see, and each leader's count of them.
func (s *Server) ListAppointments(ctx context.Context, req *schedulingv1.ListAppointmentsRequest) (*schedulingv1.ListAppointmentsResponse, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	month, err := time.ParseInLocation("2006-01", req.GetMonth(), calendar.China)
	if err != nil {
		var v fault.Violations
		v.Add("month", `must be "YYYY-MM"`)
		return nil, v.Err()
	}
	as, err := s.Store.Appointments(ctx, month, month.AddDate(0, 1, 0), "", req.GetLeader())
	if err != nil {
		return nil, err
	}
	if as, err = s.visibleAppointments(ctx, caller, as); err != nil {
		return nil, err
	}
	leaders, err := s.Store.Leaders(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]int32{}
	resp := &schedulingv1.ListAppointmentsResponse{}
	for _, a := range as {
		counts[a.Leader]++
		resp.Appointments = append(resp.Appointments, appointmentProto(a))
	}
	for _, l := range leaders {
		if req.GetLeader() != "" && l != req.GetLeader() {
			continue
		}
		resp.Leaders = append(resp.Leaders, &schedulingv1.LeaderMonth{
			Leader: l, Month: req.GetMonth(), Appointments: counts[l], BelowExpected: counts[l] < ExpectedAppointments,
		})
	}
	return resp, nil
}

// visibleAppointments keeps the appointments of cases caller may see.
func (s *Server) visibleAppointments(ctx context.Context, caller auth.Caller, as []*store.Appointment) ([]*store.Appointment, error) {
	nums := make([]string, len(as))
	for i, a := range as {
		nums[i] = a.CaseNumber
	}
	vis, err := s.Store.InvolvedIn(ctx, nums)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(as, func(a *store.Appointment) bool {
		v, ok := vis[a.CaseNumber]
		return !ok || !policy.CanSeeCase(caller, v.County, v.Involved)
	}), nil
}
