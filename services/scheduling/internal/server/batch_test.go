package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// TestMoveBatches: assignment's feed taken a batch at a time (two cases'
// moves interleaved, several of one case in one batch, a clock restarted)
// leaves the same clocks, versions and ClockChanged events as one move per
// transaction.
func TestMoveBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	move := func(number string, seq int64, action assignmentv1.Action, at, holder, target string, mut ...func(*eventsv1.CaseMoved)) *eventsv1.Event {
		mv := &eventsv1.CaseMoved{
			County: "330421", Township: "330421102", CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM,
			Entry: &assignmentv1.HistoryEntry{
				Sequence: seq, Action: action, Time: timestamppb.New(cst(at)), ActorOffice: "offices/" + holder,
				ToOffice: "offices/" + holder, TargetOffice: target,
			},
		}
		for _, m := range mut {
			m(mv)
		}
		return &eventsv1.Event{EventId: fmt.Sprintf("%s-%d", number, seq), CaseNumber: number, Payload: &eventsv1.Event_CaseMoved{CaseMoved: mv}}
	}
	const a, b = "330421-2026-000001", "330421-2026-000002"
	evs := []*eventsv1.Event{
		move(a, 1, assignmentv1.Action_ACTION_REGISTER, "2026-09-28 09:00", "330421102", ""),
		move(b, 1, assignmentv1.Action_ACTION_REGISTER, "2026-09-28 10:00", "330421103", ""),
		move(a, 2, assignmentv1.Action_ACTION_REFER_UP, "2026-10-09 15:00", "330421.xfj", ""), // the routing clock restarts
		move(a, 3, assignmentv1.Action_ACTION_TRANSFER, "2026-10-12 10:00", "330421.xfj", "offices/330421.zjj"),
		move(b, 2, assignmentv1.Action_ACTION_ACCEPT, "2026-10-12 11:00", "330421103", ""),
		move(a, 4, assignmentv1.Action_ACTION_SIGN_FOR, "2026-10-13 10:00", "330421.zjj", ""),
		move(a, 5, assignmentv1.Action_ACTION_ACCEPT, "2026-10-20 09:00", "330421.zjj", ""),
		move(b, 3, assignmentv1.Action_ACTION_EXTEND, "2026-11-02 09:00", "330421103", "", func(mv *eventsv1.CaseMoved) { mv.ExtensionDays = 30 }),
		move(a, 6, assignmentv1.Action_ACTION_ANSWER, "2026-12-01 09:00", "330421.zjj", ""),
		move(a, 7, assignmentv1.Action_ACTION_REQUEST_REVIEW, "2026-12-03 09:00", "330421.xfj", ""),
		move(b, 4, assignmentv1.Action_ACTION_ANSWER, "2026-12-04 09:00", "330421103", ""),
	}
	one, _ := newServer(t)
	for _, ev := range evs {
		if err := pgdb.InTx(ctx, one.Store.Pool, func(tx pgx.Tx) error { return one.ApplyMove(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	batched, _ := newServer(t)
	for _, split := range [][]*eventsv1.Event{evs[:1], evs[1:6], evs[6:]} {
		err := pgdb.InPipeline(ctx, batched.Store.Pool, func(tx pgx.Tx) error {
			return outbox.ApplyBatch(ctx, tx, batched.BeginMoves, split...)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want, got := clockState(t, one), clockState(t, batched)
	if got != want {
		t.Errorf("in batches:\n%s\none by one:\n%s", got, want)
	}
	if !strings.Contains(got, "event "+b) || strings.Count(got, "clock ") < 6 {
		t.Errorf("too little to compare:\n%s", got)
	}
}

// clockState lists s's clocks and the ClockChanged events it published
// (each case's in feed order), in a form two databases can be compared by.
func clockState(t *testing.T, s *Server) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	rows, err := s.Store.Pool.Query(ctx, `SELECT case_number, kind, office, start_time, due_date, extension_days, provisional,
		rule, stop_time, paused_at, version FROM clocks ORDER BY case_number, kind`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, append([]any{"clock"}, v...)...)
	}
	evs, err := outbox.Written(ctx, s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(evs, func(x, y *eventsv1.Event) int { return strings.Compare(x.GetCaseNumber(), y.GetCaseNumber()) })
	for _, ev := range evs {
		fmt.Fprintln(&b, "event", ev.GetCaseNumber(), ev.GetClockChanged())
	}
	return b.String()
}
