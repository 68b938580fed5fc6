package server

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/scheduling/internal/store"
	"github.com/tongban/tongban/services/scheduling/migrations"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStart("scheduling", migrations.Set)
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

// testClock is the jobs' clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// newServer returns a server (嘉善: the Zhejiang rule set) on a fresh
// database, with a test clock.
func newServer(t *testing.T) (*Server, *testClock) {
	t.Helper()
	s, err := New(&store.Store{Pool: testDB.NewDatabase(t)}, directory.Demo())
	if err != nil {
		t.Fatal(err)
	}
	clk := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, calendar.China)}
	s.Now = clk.Now
	return s, clk
}

// replica is a second server on s's database.
func replica(t *testing.T, s *Server, clk *testClock) *Server {
	t.Helper()
	r, err := New(s.Store, directory.Demo())
	if err != nil {
		t.Fatal(err)
	}
	r.Now = clk.Now
	return r
}

const num = "330421-2026-000001"

func cst(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, calendar.China)
	if err != nil {
		panic(err)
	}
	return t
}

// apply feeds s one of assignment's CaseMoved events.
func apply(t *testing.T, s *Server, seq int64, action assignmentv1.Action, at time.Time, holder, target string, mut ...func(*eventsv1.CaseMoved)) {
	t.Helper()
	mv := &eventsv1.CaseMoved{
		County: "330421", Township: "330421102", CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM,
		Entry: &assignmentv1.HistoryEntry{
			Sequence: seq, Action: action, Time: timestamppb.New(at), ActorOffice: "offices/" + holder,
			ToOffice: "offices/" + holder, TargetOffice: target,
		},
	}
	for _, m := range mut {
		m(mv)
	}
	ev := &eventsv1.Event{CaseNumber: num, Payload: &eventsv1.Event_CaseMoved{CaseMoved: mv}}
	ctx := context.Background()
	if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.ApplyMove(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
}

// due returns the clocks of the case as kind → "due-date office [stopped]".
func due(t *testing.T, s *Server, token string) map[assignmentv1.ClockKind]string {
	t.Helper()
	r, err := s.ListCaseDeadlines(authtest.As(t, token), &schedulingv1.ListCaseDeadlinesRequest{Parent: "cases/" + num})
	if err != nil {
		t.Fatal(err)
	}
	out := map[assignmentv1.ClockKind]string{}
	for _, d := range r.GetDeadlines() {
		v := d.GetDueTime().AsTime().In(calendar.China).Format(time.DateOnly) + " " + d.GetOffice()
		if d.GetStopTime() != nil {
			v += " stopped"
		}
		if d.GetOverdue() {
			v += " overdue"
		}
		out[d.GetKind()] = v
	}
	return out
}

// TestClocksFollowTheCase drives a case registered on the Friday before the
// 2026 National Day holiday through referral, transfer, acceptance, an
// extension and the answer, checking each clock's office and last day.
func TestClocksFollowTheCase(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	const (
		routing    = assignmentv1.ClockKind_CLOCK_KIND_ROUTING
		objection  = assignmentv1.ClockKind_CLOCK_KIND_OBJECTION
		acceptance = assignmentv1.ClockKind_CLOCK_KIND_ACCEPTANCE
		handling   = assignmentv1.ClockKind_CLOCK_KIND_HANDLING
		window     = assignmentv1.ClockKind_CLOCK_KIND_REVIEW_REQUEST
	)
	steps := []struct {
		action         assignmentv1.Action
		at             string
		holder, target string
		mut            func(*eventsv1.CaseMoved)
		want           map[assignmentv1.ClockKind]string
	}{
		{assignmentv1.Action_ACTION_REGISTER, "2026-09-28 09:00", "330421102", "", func(mv *eventsv1.CaseMoved) {
			mv.ReceiveTime = timestamppb.New(cst("2026-09-25 10:00")) // a letter received on Friday, entered on Monday
		}, map[assignmentv1.ClockKind]string{routing: "2026-10-09 offices/330421102"}},
		{assignmentv1.Action_ACTION_REFER_UP, "2026-10-09 15:00", "330421.xfj", "", nil, map[assignmentv1.ClockKind]string{
			routing: "2026-10-15 offices/330421.xfj"}}, // the bureau's own 5 working days: 10, 12, 13, 14, 15 Oct (10 Oct a 调休 Saturday)
		{assignmentv1.Action_ACTION_TRANSFER, "2026-10-12 10:00", "330421.xfj", "offices/330421.zjj", nil, map[assignmentv1.ClockKind]string{
			routing: "2026-10-15 offices/330421.xfj stopped", objection: "2026-10-19 offices/330421.zjj"}},
		{assignmentv1.Action_ACTION_SIGN_FOR, "2026-10-13 10:00", "330421.zjj", "", nil, map[assignmentv1.ClockKind]string{
			routing: "2026-10-15 offices/330421.xfj stopped", objection: "2026-10-19 offices/330421.zjj stopped", acceptance: "2026-10-20 offices/330421.zjj"}},
		{assignmentv1.Action_ACTION_ACCEPT, "2026-10-20 09:00", "330421.zjj", "", nil, map[assignmentv1.ClockKind]string{
			routing: "2026-10-15 offices/330421.xfj stopped", objection: "2026-10-19 offices/330421.zjj stopped",
			acceptance: "2026-10-20 offices/330421.zjj stopped", handling: "2026-11-19 offices/330421.zjj"}},
		{assignmentv1.Action_ACTION_EXTEND, "2026-11-10 09:00", "330421.zjj", "", func(mv *eventsv1.CaseMoved) { mv.ExtensionDays = 30 }, map[assignmentv1.ClockKind]string{
			routing: "2026-10-15 offices/330421.xfj stopped", objection: "2026-10-19 offices/330421.zjj stopped",
			acceptance: "2026-10-20 offices/330421.zjj stopped", handling: "2026-12-21 offices/330421.zjj"}},
		{assignmentv1.Action_ACTION_ANSWER, "2026-12-01 09:00", "330421.zjj", "", nil, map[assignmentv1.ClockKind]string{
			routing: "2026-10-15 offices/330421.xfj stopped", objection: "2026-10-19 offices/330421.zjj stopped",
			acceptance: "2026-10-20 offices/330421.zjj stopped", handling: "2026-12-21 offices/330421.zjj stopped",
			window: "2026-12-31 offices/330421.zjj"}},
	}
	published := 0
	for i, st := range steps {
		var mut []func(*eventsv1.CaseMoved)
		if st.mut != nil {
			mut = append(mut, st.mut)
		}
		apply(t, s, int64(i+1), st.action, cst(st.at), st.holder, st.target, mut...)
		published = checkVersions(t, s, st.action.String(), published)
		if i == 2 {
			// A reminder job's write, between moves, bumps a version too.
			if _, err := s.Store.Pool.Exec(context.Background(), `UPDATE clocks SET reminded_at = now() WHERE case_number = $1 AND stop_time IS NULL`, num); err != nil {
				t.Fatal(err)
			}
		}
		got := due(t, s, "demo-bureau")
		if len(got) != len(st.want) {
			t.Fatalf("after %v: %v, want %v", st.action, got, st.want)
		}
		for k, w := range st.want {
			if got[k] != w {
				t.Fatalf("after %v: %v is %q, want %q", st.action, k, got[k], w)
			}
		}
	}
	// The township that referred it up still follows it; another does not.
	if got := due(t, s, "demo-dayun"); len(got) != 5 {
		t.Errorf("大云镇 sees %v", got)
	}
	if _, err := s.ListCaseDeadlines(authtest.As(t, "demo-xitang"), &schedulingv1.ListCaseDeadlinesRequest{Parent: "cases/" + num}); rpcerr.Code(err) != codes.NotFound {
		t.Errorf("西塘镇: %v", err)
	}
	// Each change was published for assignment to show.
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil || len(evs) < 10 {
		t.Errorf("%d ClockChanged events (%v)", len(evs), err)
	}
}

// checkVersions checks that the ClockChanged events a move published after
// the first `before` carry the versions their clocks have now, and returns
// how many events there are.
func checkVersions(t *testing.T, s *Server, after string, before int) int {
	t.Helper()
	ctx := context.Background()
	evs, err := outbox.Written(ctx, s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == before {
		t.Errorf("after %s: no ClockChanged", after)
	}
	for _, ev := range evs[before:] {
		cc := ev.GetClockChanged()
		var v int64
		if err := s.Store.Pool.QueryRow(ctx, `SELECT version FROM clocks WHERE case_number = $1 AND kind = $2`,
			num, int16(cc.GetDeadline().GetKind())).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if cc.GetVersion() != v {
			t.Errorf("after %s: %v is at version %d, its ClockChanged says %d", after, cc.GetDeadline().GetKind(), v, cc.GetVersion())
		}
	}
	return len(evs)
}

// TestJobsFireOnceAcrossReplicas: a clock near its day and a clock past it;
// two replicas run the jobs at once, many times: one reminder, one 督办.
// The 督办 is resolved when the office acts.
func TestJobsFireOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	s, clk := newServer(t)
	other := replica(t, s, clk)
	// Registered Monday 16 Nov at 大云镇: routing due Monday 23 Nov (5 working
	// days), reminder from Wednesday 18 Nov.
	apply(t, s, 1, assignmentv1.Action_ACTION_REGISTER, cst("2026-11-16 09:00"), "330421102", "")
	clk.set(cst("2026-11-19 09:00"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := [2]int{}
	run := func() {
		for _, srv := range []*Server{s, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					r, sup, err := srv.Tick(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					total[0] += r
					total[1] += sup
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	run()
	if total != [2]int{1, 0} {
		t.Fatalf("before the deadline: %d reminders, %d supervisions; want 1, 0", total[0], total[1])
	}
	clk.set(cst("2026-11-24 09:00")) // the day after the last day
	run()
	if total != [2]int{1, 1} {
		t.Fatalf("after the deadline: %d reminders, %d supervisions; want 1, 1", total[0], total[1])
	}
	rem, err := s.ListReminders(authtest.As(t, "demo-dayun"), &schedulingv1.ListRemindersRequest{Parent: "offices/330421102"})
	if err != nil || len(rem.GetReminders()) != 1 {
		t.Fatalf("reminders: %v, %v", rem, err)
	}
	sup, err := s.ListSupervisions(authtest.As(t, "demo-bureau"), &schedulingv1.ListSupervisionsRequest{})
	if err != nil || len(sup.GetSupervisions()) != 1 || sup.GetSupervisions()[0].GetSupervisor() != "offices/330421.xfj" {
		t.Fatalf("supervisions: %v, %v", sup, err)
	}
	if got := due(t, s, "demo-dayun")[assignmentv1.ClockKind_CLOCK_KIND_ROUTING]; got != "2026-11-23 offices/330421102 overdue" {
		t.Errorf("routing clock: %q", got)
	}
	// The township refers it up: its clock stops, the 督办 is resolved.
	apply(t, s, 2, assignmentv1.Action_ACTION_REFER_UP, cst("2026-11-24 10:00"), "330421.xfj", "")
	open, err := s.ListSupervisions(authtest.As(t, "demo-bureau"), &schedulingv1.ListSupervisionsRequest{})
	if err != nil || len(open.GetSupervisions()) != 0 {
		t.Errorf("open supervisions after acting: %v, %v", open, err)
	}
	all, err := s.ListSupervisions(authtest.As(t, "demo-dayun"), &schedulingv1.ListSupervisionsRequest{ShowResolved: true})
	if err != nil || len(all.GetSupervisions()) != 1 || all.GetSupervisions()[0].GetResolveTime() == nil {
		t.Errorf("resolved supervisions: %v, %v", all, err)
	}
	if _, err := s.ListReminders(authtest.As(t, "demo-xitang"), &schedulingv1.ListRemindersRequest{Parent: "offices/330421102"}); rpcerr.Code(err) != codes.PermissionDenied {
		t.Errorf("another township's reminders: %v", err)
	}
}

// TestLocalRestDay: a typhoon day off moves running clocks; only the bureau
// adds one, once.
func TestLocalRestDay(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	apply(t, s, 1, assignmentv1.Action_ACTION_REGISTER, cst("2026-11-23 09:00"), "330421102", "")
	if got := due(t, s, "demo-dayun")[assignmentv1.ClockKind_CLOCK_KIND_ROUTING]; got != "2026-11-30 offices/330421102" {
		t.Fatalf("before: %q", got)
	}
	req := &schedulingv1.CreateLocalRestDayRequest{LocalRestDay: &schedulingv1.LocalRestDay{Date: "2026-11-25", Title: "台风停工"}}
	if _, err := s.CreateLocalRestDay(authtest.As(t, "demo-dayun"), req); rpcerr.Code(err) != codes.PermissionDenied {
		t.Errorf("a township adds a day off: %v", err)
	}
	if _, err := s.CreateLocalRestDay(authtest.As(t, "demo-bureau"), req); err != nil {
		t.Fatal(err)
	}
	if got := due(t, s, "demo-dayun")[assignmentv1.ClockKind_CLOCK_KIND_ROUTING]; got != "2026-12-01 offices/330421102" {
		t.Errorf("after the day off: %q", got)
	}
	if _, err := s.CreateLocalRestDay(authtest.As(t, "demo-bureau"), req); rpcerr.Code(err) != codes.AlreadyExists {
		t.Errorf("the same day again: %v", err)
	}
	bad := &schedulingv1.CreateLocalRestDayRequest{LocalRestDay: &schedulingv1.LocalRestDay{Date: "25.11.2026"}}
	if _, err := s.CreateLocalRestDay(authtest.As(t, "demo-bureau"), bad); rpcerr.Code(err) != codes.InvalidArgument {
		t.Errorf("bad day off: %v", err)
	}
	// A replica learns of it on its next load.
	clk := &testClock{now: time.Now()}
	r := replica(t, s, clk)
	if changed, err := r.LoadCalendar(context.Background()); err != nil || !changed {
		t.Fatalf("replica load: %v, %v", changed, err)
	}
	if d := r.Calendar().Day(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)); d.Kind != calendar.LocalRestDay {
		t.Errorf("replica calendar: %+v", d)
	}
	if changed, _ := r.LoadCalendar(context.Background()); changed {
		t.Error("an unchanged reload reported a change")
	}
}

func TestGetCalendarDay(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
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
		if rpcerr.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
			continue
		}
		d := resp.GetDay()
		if err == nil && (d.GetKind() != tc.kind || d.GetWorkingDay() != tc.working || d.GetProvisional() != tc.provisional) {
			t.Errorf("%s: %v", tc.name, d)
		}
	}
}

// TestHearingPausesReReview: a hearing's days do not count toward the
// re-review period, and a paused clock raises no 督办.
func TestHearingPausesReReview(t *testing.T) {
	t.Parallel()
	s, clk := newServer(t)
	const reReview = assignmentv1.ClockKind_CLOCK_KIND_RE_REVIEW
	apply(t, s, 1, assignmentv1.Action_ACTION_REQUEST_RE_REVIEW, cst("2026-11-02 09:00"), "330400.xfj", "")
	if got := due(t, s, "demo-bureau")[reReview]; got != "2026-12-02 offices/330400.xfj" {
		t.Fatalf("re-review: %q", got)
	}
	apply(t, s, 2, assignmentv1.Action_ACTION_START_HEARING, cst("2026-11-10 09:00"), "330400.xfj", "")
	clk.set(cst("2026-12-05 09:00")) // past the old due date, hearing still on
	if _, sup, err := s.Tick(context.Background()); err != nil || sup != 0 {
		t.Fatalf("a paused clock was supervised: %d, %v", sup, err)
	}
	apply(t, s, 3, assignmentv1.Action_ACTION_END_HEARING, cst("2026-11-20 16:00"), "330400.xfj", "")
	// 10 days of hearing: 2 Dec + 10 = Saturday 12 Dec, rolled to Monday 14 Dec.
	if got := due(t, s, "demo-bureau")[reReview]; got != "2026-12-14 offices/330400.xfj" {
		t.Errorf("after the hearing: %q", got)
	}
}

// TestImportHolidayNotice: next year's notice loaded at run time makes a
// provisional deadline firm and is published for the other services.
func TestImportHolidayNotice(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	apply(t, s, 1, assignmentv1.Action_ACTION_REGISTER, cst("2026-12-28 09:00"), "330421102", "")
	routing := func() *assignmentv1.Deadline {
		r, err := s.ListCaseDeadlines(authtest.As(t, "demo-bureau"), &schedulingv1.ListCaseDeadlinesRequest{Parent: "cases/" + num})
		if err != nil || len(r.GetDeadlines()) != 1 {
			t.Fatalf("deadlines: %v, %v", r, err)
		}
		return r.GetDeadlines()[0]
	}
	// 元旦 is a fixed statutory day off, known before the notice: the date
	// is right already, and provisional.
	if d := routing(); !d.GetProvisional() || d.GetDueTime().AsTime().In(calendar.China).Format(time.DateOnly) != "2027-01-05" {
		t.Fatalf("before: %v", d)
	}
	notice := "year 2027\nsource 国办发明电〔2026〕（test）\n元旦 2027-01-01..2027-01-03\n春节 2027-02-06..2027-02-13 workdays 2027-02-14\n"
	for _, tc := range []struct {
		token, text string
		code        codes.Code
	}{
		{"demo-dayun", notice, codes.PermissionDenied},
		{"demo-bureau", "year 2027\n春节 2027-02-06\n", codes.InvalidArgument},           // no source
		{"demo-bureau", "year 2026\nsource x\n元旦 2026-01-01\n", codes.InvalidArgument}, // already in the data
	} {
		if _, err := s.ImportHolidayNotice(authtest.As(t, tc.token), &schedulingv1.ImportHolidayNoticeRequest{Text: tc.text}); rpcerr.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.token, err, tc.code)
		}
	}
	r, err := s.ImportHolidayNotice(authtest.As(t, "demo-bureau"), &schedulingv1.ImportHolidayNoticeRequest{Text: notice})
	if err != nil || r.GetYear() != 2027 || r.GetHolidays() != 11 || r.GetWorkdays() != 1 || r.GetRecomputed() != 1 {
		t.Fatalf("import: %v, %v", r, err)
	}
	// 29, 30, 31 Dec, then 元旦 (1–3 Jan), 4 and 5 Jan.
	if d := routing(); d.GetProvisional() || d.GetDueTime().AsTime().In(calendar.China).Format(time.DateOnly) != "2027-01-05" {
		t.Errorf("after: %v", d)
	}
	if _, err := s.ImportHolidayNotice(authtest.As(t, "demo-bureau"), &schedulingv1.ImportHolidayNoticeRequest{Text: notice}); rpcerr.Code(err) != codes.InvalidArgument {
		t.Errorf("the same year again: %v", err)
	}
	evs, err := outbox.Written(context.Background(), s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		found = found || ev.GetHolidayNoticeImported().GetYear() == 2027
	}
	if !found {
		t.Error("no HolidayNoticeImported event")
	}
	// A replica (or a restart) builds the same calendar from the database.
	other := replica(t, s, &testClock{now: time.Now()})
	if _, err := other.LoadCalendar(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := other.Calendar().Day(time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)); d.Kind != calendar.MakeupWorkday {
		t.Errorf("replica: %+v", d)
	}
}

// TestLeaderSeesLedClocks: a leader's account sees the clocks of the case
// it leads (CaseMoved.lead_account of the 包案), and no other leader does.
func TestLeaderSeesLedClocks(t *testing.T) {
	t.Parallel()
	s, _ := newServer(t)
	leader := func(account string) context.Context {
		return authtest.AsAccount(t, "330421.xfj", policy.RoleLeader, account)
	}
	list := func(account string) error {
		_, err := s.ListCaseDeadlines(leader(account), &schedulingv1.ListCaseDeadlinesRequest{Parent: "cases/" + num})
		return err
	}
	apply(t, s, 1, assignmentv1.Action_ACTION_REGISTER, cst("2026-11-23 09:00"), "330421102", "")
	if err := list("zhang.wei"); rpcerr.Code(err) != codes.NotFound {
		t.Fatalf("before the 包案 a bureau leader reads the clocks: %v", err)
	}
	apply(t, s, 2, assignmentv1.Action_ACTION_TAKE_LEAD, cst("2026-11-23 10:00"), "330421102", "offices/330421102",
		func(mv *eventsv1.CaseMoved) { mv.LeadAccount = "accounts/zhang.wei" })
	if err := list("zhang.wei"); err != nil {
		t.Errorf("the leader in charge: %v", err)
	}
	if err := list("li.na"); rpcerr.Code(err) != codes.NotFound {
		t.Errorf("another leader: %v", err)
	}
}
