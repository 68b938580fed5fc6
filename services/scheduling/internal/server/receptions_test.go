package server

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/scheduling/internal/store"
)

// countingNotifier is a delivery channel that counts what it sends.
type countingNotifier struct {
	mu   sync.Mutex
	sent map[int64]int
}

func (c *countingNotifier) Send(_ context.Context, n *store.Notice) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent[n.ID]++
	return "sms", nil
}

func TestReceptionDay(t *testing.T) {
	t.Parallel()
	s, clk := newServer(t)
	notifier := &countingNotifier{sent: map[int64]int{}}
	s.Notifier = notifier
	other := replica(t, s, clk)
	other.Notifier = notifier
	apply(t, s, 1, assignmentv1.Action_ACTION_REGISTER, cst("2026-11-20 09:00"), "330421102", "") // 大云镇's case
	bureau, dayun := authtest.As(t, "demo-bureau"), authtest.As(t, "demo-dayun")

	r, err := s.CreateReceptionRoster(bureau, &schedulingv1.CreateReceptionRosterRequest{Roster: &schedulingv1.ReceptionRoster{
		Title: "县领导接待日", Leader: "张某", LeaderTitle: "副县长", Place: "县信访接待中心", Recurrence: schedulingv1.Recurrence_RECURRENCE_WEEKLY,
		Weekday: 1, StartDate: "2026-11-01", EndDate: "2027-06-30", Slots: 1,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateReceptionRoster(bureau, &schedulingv1.CreateReceptionRosterRequest{Roster: &schedulingv1.ReceptionRoster{
		Title: "x", Recurrence: schedulingv1.Recurrence_RECURRENCE_MONTHLY, Weekday: 9, StartDate: "2026-11-01", EndDate: "2030-01-01",
	}}); rpcerr.Code(err) != codes.InvalidArgument || len(rpcerr.Fields(err)) < 6 {
		t.Errorf("bad roster: %v %v", err, rpcerr.Fields(err))
	}
	list, err := s.ListReceptions(dayun, &schedulingv1.ListReceptionsRequest{FromDate: "2026-11-23", ToDate: "2026-12-31"})
	if err != nil || len(list.GetReceptions()) != 6 {
		t.Fatalf("receptions: %v, %v", list, err)
	}
	dec7 := r.GetRoster().GetName() + "/receptions/2026-12-07"
	apply1, err := s.CreateReceptionApplication(dayun, &schedulingv1.CreateReceptionApplicationRequest{Parent: dec7,
		Application: &schedulingv1.ReceptionApplication{Case: "cases/" + num}})
	if err != nil || apply1.GetApplication().GetStatus() != schedulingv1.ApplicationStatus_APPLICATION_STATUS_SUBMITTED {
		t.Fatalf("apply: %v, %v", apply1, err)
	}
	apply2, err := s.CreateReceptionApplication(dayun, &schedulingv1.CreateReceptionApplicationRequest{Parent: dec7,
		Application: &schedulingv1.ReceptionApplication{Case: "cases/" + num}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		err    error
		code   codes.Code
		reason string
	}{
		{"another township's case", func() error {
			_, err := s.CreateReceptionApplication(authtest.As(t, "demo-xitang"), &schedulingv1.CreateReceptionApplicationRequest{Parent: dec7,
				Application: &schedulingv1.ReceptionApplication{Case: "cases/" + num}})
			return err
		}(), codes.NotFound, "CASE_NOT_FOUND"},
		{"no reception that day", func() error {
			_, err := s.CreateReceptionApplication(dayun, &schedulingv1.CreateReceptionApplicationRequest{Parent: r.GetRoster().GetName() + "/receptions/2026-12-08",
				Application: &schedulingv1.ReceptionApplication{Case: "cases/" + num}})
			return err
		}(), codes.NotFound, "RECEPTION_NOT_FOUND"},
		{"a past reception", func() error {
			_, err := s.CreateReceptionApplication(dayun, &schedulingv1.CreateReceptionApplicationRequest{Parent: r.GetRoster().GetName() + "/receptions/2026-11-16",
				Application: &schedulingv1.ReceptionApplication{Case: "cases/" + num}})
			return err
		}(), codes.FailedPrecondition, "RECEPTION_PAST"},
		{"the township does not classify the bureau's", func() error {
			_, err := s.ClassifyReceptionApplication(dayun, &schedulingv1.ClassifyReceptionApplicationRequest{Name: apply1.GetApplication().GetName(),
				Status: schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_RECEPTION})
			return err
		}(), codes.PermissionDenied, "NOT_HOST"},
	} {
		if rpcerr.Code(tc.err) != tc.code || rpcerr.Reason(tc.err) != tc.reason {
			t.Errorf("%s: %v [%s], want %v [%s]", tc.name, tc.err, rpcerr.Reason(tc.err), tc.code, tc.reason)
		}
	}
	classify := func(name string, st schedulingv1.ApplicationStatus, decision string) (*schedulingv1.ClassifyReceptionApplicationResponse, error) {
		return s.ClassifyReceptionApplication(bureau, &schedulingv1.ClassifyReceptionApplicationRequest{Name: name, Status: st, Decision: decision})
	}
	if _, err := classify(apply1.GetApplication().GetName(), schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_RECEPTION, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := classify(apply2.GetApplication().GetName(), schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_RECEPTION, ""); rpcerr.Reason(err) != "RECEPTION_FULL" {
		t.Errorf("second booking of one place: %v", err)
	}
	if _, err := classify(apply2.GetApplication().GetName(), schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_DEPARTMENT, "offices/330421.zjj"); err != nil {
		t.Errorf("to a department: %v", err)
	}
	if _, err := classify(apply2.GetApplication().GetName(), schedulingv1.ApplicationStatus_APPLICATION_STATUS_TO_STATUTORY_CHANNEL, "劳动仲裁"); rpcerr.Reason(err) != "ALREADY_CLASSIFIED" {
		t.Errorf("classified twice: %v", err)
	}
	list, _ = s.ListReceptions(dayun, &schedulingv1.ListReceptionsRequest{FromDate: "2026-12-07", ToDate: "2026-12-07"})
	if len(list.GetReceptions()) != 1 || list.GetReceptions()[0].GetBooked() != 1 {
		t.Errorf("booked: %v", list)
	}
	// Notices: the leader's on Thursday 3 Dec (2 working days before), the
	// petitioner's on Sunday 6 Dec; two replicas send each once.
	tick := func(at string) {
		clk.set(cst(at))
		var wg sync.WaitGroup
		for _, srv := range []*Server{s, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					if _, _, err := srv.Tick(context.Background()); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
	}
	notices := func() []*schedulingv1.Notice {
		n, err := s.ListNotices(bureau, &schedulingv1.ListNoticesRequest{Parent: "offices/330421.xfj"})
		if err != nil {
			t.Fatal(err)
		}
		return n.GetNotices()
	}
	ns := notices()
	if len(ns) != 2 || ns[0].GetKind() != schedulingv1.NoticeKind_NOTICE_KIND_LEADER || ns[0].GetApplication() != apply1.GetApplication().GetName() ||
		!ns[0].GetDueTime().AsTime().Equal(cst("2026-12-03 09:00")) || !ns[1].GetDueTime().AsTime().Equal(cst("2026-12-06 09:00")) {
		t.Fatalf("notices: %v", ns)
	}
	tick("2026-12-02 18:00")
	tick("2026-12-03 09:30")
	if ns := notices(); ns[0].GetSendTime() == nil || ns[1].GetSendTime() != nil || ns[0].GetChannel() != "sms" {
		t.Errorf("after 3 Dec: %v", ns)
	}
	tick("2026-12-06 09:30")
	for _, n := range notices() {
		if n.GetSendTime() == nil {
			t.Errorf("unsent: %v", n)
		}
	}
	for id, n := range notifier.sent {
		if n != 1 {
			t.Errorf("notice %d sent %d times", id, n)
		}
	}
	if len(notifier.sent) != 2 {
		t.Errorf("%d notices sent, want 2", len(notifier.sent))
	}
	// The meeting, recorded once.
	rec, err := s.RecordReceptionMeeting(bureau, &schedulingv1.RecordReceptionMeetingRequest{Name: apply1.GetApplication().GetName(), MeetingRecord: "副县长听取诉求，责成住建局两周内答复。"})
	if err != nil || rec.GetApplication().GetStatus() != schedulingv1.ApplicationStatus_APPLICATION_STATUS_MET || rec.GetApplication().GetCase() != "cases/"+num {
		t.Fatalf("record: %v, %v", rec, err)
	}
	if _, err := s.RecordReceptionMeeting(bureau, &schedulingv1.RecordReceptionMeetingRequest{Name: apply2.GetApplication().GetName(), MeetingRecord: "x"}); rpcerr.Reason(err) != "NOT_BOOKED" {
		t.Errorf("record of an unbooked application: %v", err)
	}
}

func TestAppointmentsAndAgenda(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	apply(t, s, 1, assignmentv1.Action_ACTION_REGISTER, cst("2026-11-20 09:00"), "330421.xfj", "")
	bureau := authtest.As(t, "demo-bureau")
	if _, err := s.CreateReceptionRoster(bureau, &schedulingv1.CreateReceptionRosterRequest{Roster: &schedulingv1.ReceptionRoster{
		Title: "大接访", Leader: "李某", LeaderTitle: "县长", Place: "县信访接待中心", Recurrence: schedulingv1.Recurrence_RECURRENCE_MONTHLY,
		Weekday: 1, WeekOfMonth: 1, StartDate: "2026-01-01", EndDate: "2026-12-31", Slots: 10,
	}}); err != nil {
		t.Fatal(err)
	}
	book := func(at string) error {
		_, err := s.CreateAppointment(bureau, &schedulingv1.CreateAppointmentRequest{Appointment: &schedulingv1.Appointment{
			Leader: "张某", LeaderTitle: "副县长", Case: "cases/" + num, StartTime: timestamppb.New(cst(at)), Place: "大云镇政府",
		}})
		return err
	}
	if err := book("2026-12-10 15:00"); err != nil {
		t.Fatal(err)
	}
	month := func() map[string]*schedulingv1.LeaderMonth {
		r, err := s.ListAppointments(bureau, &schedulingv1.ListAppointmentsRequest{Month: "2026-12"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*schedulingv1.LeaderMonth{}
		for _, l := range r.GetLeaders() {
			out[l.GetLeader()] = l
		}
		return out
	}
	if m := month(); m["张某"].GetAppointments() != 1 || !m["张某"].GetBelowExpected() || m["李某"].GetAppointments() != 0 || !m["李某"].GetBelowExpected() {
		t.Errorf("after one: %v", m)
	}
	if err := book("2026-12-17 15:00"); err != nil {
		t.Fatal(err)
	}
	if m := month(); m["张某"].GetAppointments() != 2 || m["张某"].GetBelowExpected() {
		t.Errorf("after two: %v", m)
	}
	if _, err := s.CreateAppointment(authtest.As(t, "demo-xitang"), &schedulingv1.CreateAppointmentRequest{Appointment: &schedulingv1.Appointment{
		Leader: "张某", LeaderTitle: "副县长", Case: "cases/" + num, StartTime: timestamppb.New(cst("2026-12-10 15:00")), Place: "x",
	}}); rpcerr.Code(err) != codes.NotFound {
		t.Errorf("appointment on a case the office cannot see: %v", err)
	}
	ag, err := s.GetOfficeAgenda(bureau, &schedulingv1.GetOfficeAgendaRequest{Name: "offices/330421.xfj/agenda", FromDate: "2026-11-23", ToDate: "2026-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range ag.GetItems() {
		kinds = append(kinds, it.GetKind()+"@"+it.GetStartTime().AsTime().In(cst("2026-01-01 00:00").Location()).Format("01-02"))
	}
	// The routing deadline (5 working days from 20 Nov: 27 Nov), the big
	// reception on 7 Dec, the appointments on 10 and 17 Dec.
	if got := strings.Join(kinds, " "); got != "deadline@11-27 reception@12-07 appointment@12-10 appointment@12-17" {
		t.Errorf("agenda: %s", got)
	}
	ics, err := s.GetOfficeAgendaIcs(bureau, &schedulingv1.GetOfficeAgendaIcsRequest{Name: "offices/330421.xfj/agenda", FromDate: "2026-11-23", ToDate: "2026-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	body := string(ics.GetData())
	for _, want := range []string{"BEGIN:VCALENDAR\r\n", "DTSTART;VALUE=DATE:20261207\r\n", "DTSTART:20261210T070000Z\r\n", "END:VCALENDAR\r\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("ics lacks %q:\n%s", want, body)
		}
	}
	if strings.Count(body, "BEGIN:VEVENT") != 4 || ics.GetContentType() != "text/calendar; charset=utf-8" {
		t.Errorf("ics: %s", body)
	}
	for _, l := range strings.Split(body, "\r\n") {
		if len(l) > 75 {
			t.Errorf("unfolded line of %d octets: %q", len(l), l)
		}
	}
	if _, err := s.GetOfficeAgenda(authtest.As(t, "demo-dayun"), &schedulingv1.GetOfficeAgendaRequest{Name: "offices/330421.xfj/agenda"}); rpcerr.Code(err) != codes.PermissionDenied {
		t.Errorf("another office's agenda: %v", err)
	}
}

// TestAgendaOfABusyOffice: an office holding more open deadlines than the
// agenda shows (1,500 due before the range) still sees the one in it; the
// agenda reads the range, not everything the office holds open.
func TestAgendaOfABusyOffice(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	ctx := context.Background()
	if _, err := s.Store.Pool.Exec(ctx, `INSERT INTO clocks (case_number, kind, county, township, office, supervised,
		start_time, due_date, remind_on, provisional, rule)
		SELECT '330421-2026-' || lpad(n::text, 6, '0'), 2, '330421', '330421102', '330421.rsj', true,
			'2026-10-01 09:00+08', CASE WHEN n <= 1500 THEN date '2026-11-30' ELSE date '2027-01-15' END, date '2026-11-25', false, 'test'
		FROM generate_series(1, 1501) n`); err != nil {
		t.Fatal(err)
	}
	ag, err := s.GetOfficeAgenda(authtest.As(t, "demo-rsj"), &schedulingv1.GetOfficeAgendaRequest{
		Name: "offices/330421.rsj/agenda", FromDate: "2027-01-01", ToDate: "2027-01-31"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ag.GetItems()) != 1 || ag.GetItems()[0].GetResource() != "cases/330421-2026-001501" {
		t.Errorf("the agenda of January holds %d items (%v), want the one deadline due then", len(ag.GetItems()), ag.GetItems())
	}
}
