package server

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/platform/authtest"
	"github.com/tongban/tongban/services/platform/directory"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/pgtest"
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

// TestSummaryFixture feeds a hand-made set of moves (some replayed, some
// out of order) and checks the figures against counts made by hand.
func TestSummaryFixture(t *testing.T) {
	t.Parallel()
	s := &Server{Store: &store.Store{Pool: testDB.NewDatabase(t)}, Dir: directory.Demo()}
	type mv struct {
		n        int
		township string
		action   assignmentv1.Action
	}
	const (
		reg = assignmentv1.Action_ACTION_REGISTER
		up  = assignmentv1.Action_ACTION_REFER_UP
		tr  = assignmentv1.Action_ACTION_TRANSFER
		ans = assignmentv1.Action_ACTION_ANSWER
	)
	moves := []mv{
		// 大云镇: case 1 referred up, transferred, answered; case 2 answered locally; case 3 open.
		{1, "330421102", reg}, {1, "330421102", up}, {1, "330421102", tr}, {1, "330421102", ans},
		{2, "330421102", reg}, {2, "330421102", ans},
		{3, "330421102", reg},
		// 西塘镇: case 4 referred up (its answer arrives before its registration).
		{4, "330421103", ans}, {4, "330421103", reg}, {4, "330421103", up},
		// Replays change nothing.
		{1, "330421102", up}, {2, "330421102", reg},
	}
	ctx := context.Background()
	for _, m := range moves {
		ev := &eventsv1.Event{CaseNumber: fmt.Sprintf("330421-2026-%06d", m.n), Payload: &eventsv1.Event_CaseMoved{CaseMoved: &eventsv1.CaseMoved{
			County: "330421", Township: m.township,
			Entry: &assignmentv1.HistoryEntry{Action: m.action, Time: timestamppb.New(time.Date(2026, 3, m.n, 8, 0, 0, 0, time.UTC))},
		}}}
		if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error { return s.Record(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetSummary(authtest.As(t, "demo-bureau"), &reportingv1.GetSummaryRequest{Name: "counties/330421/summary"})
	if err != nil {
		t.Fatal(err)
	}
	want := &reportingv1.Summary{
		Name: "counties/330421/summary", Registered: 4, ReferredUp: 2, Transferred: 1, Answered: 3, Open: 1,
		Townships: []*reportingv1.TownshipFigures{
			{Township: "330421102", Registered: 3, ReferredUp: 1, Answered: 2},
			{Township: "330421103", Registered: 1, ReferredUp: 1, Answered: 1},
		},
	}
	if diff := cmp.Diff(want, got.GetSummary(), protocmp.Transform()); diff != "" {
		t.Errorf("county summary (-want +got):\n%s", diff)
	}
	own, err := s.GetSummary(authtest.As(t, "demo-xitang"), &reportingv1.GetSummaryRequest{Name: "counties/330421/summary"})
	if err != nil || own.GetSummary().GetRegistered() != 1 || len(own.GetSummary().GetTownships()) != 1 {
		t.Fatalf("西塘镇's own summary: %v, %v", own, err)
	}
	if _, err := s.GetSummary(authtest.As(t, "demo-zjj"), &reportingv1.GetSummaryRequest{Name: "counties/330421/summary"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("department: %v", err)
	}
	if _, err := s.GetSummary(authtest.As(t, "demo-bureau"), &reportingv1.GetSummaryRequest{Name: "counties/330681/summary"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("another county: %v", err)
	}
}
