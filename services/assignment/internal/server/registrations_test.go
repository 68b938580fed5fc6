package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// TestRegistrationBatches: intake's feed taken a batch at a time leaves the
// same cases, history and events as one event per transaction: new cases,
// an accused unit, a replayed event (its case left alone), a repeat of a
// finally closed matter (declined) and of an open one (not).
func TestRegistrationBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	event := func(id, number string, mutate func(*eventsv1.CaseRegistered)) *eventsv1.Event {
		r := &eventsv1.CaseRegistered{
			County: "330421", Township: "330421102", RegisteredBy: "offices/330421102", RegisteredRole: "clerk",
			Channel: intakev1.Channel_CHANNEL_VISIT, CaseClass: intakev1.CaseClass_CASE_CLASS_CLAIM,
			ReceiveTime: timestamppb.New(base.Add(-24 * time.Hour)),
		}
		if mutate != nil {
			mutate(r)
		}
		return &eventsv1.Event{EventId: id, CaseNumber: number, OccurTime: timestamppb.New(base),
			Payload: &eventsv1.Event_CaseRegistered{CaseRegistered: r}}
	}
	evs := []*eventsv1.Event{
		event("e1", "330421-2026-000011", nil),
		event("e2", "330421-2026-000012", func(r *eventsv1.CaseRegistered) {
			r.CaseClass, r.AccusedOffice = intakev1.CaseClass_CASE_CLASS_ACCUSATION, "330421103"
		}),
		event("e3", "330421-2026-000011", func(r *eventsv1.CaseRegistered) { r.Township = "330421103" }), // a replay: left alone
		event("e4", "330421-2026-000013", func(r *eventsv1.CaseRegistered) { r.RepeatOf = "cases/330421-2026-000001" }),
		event("e5", "330421-2026-000014", func(r *eventsv1.CaseRegistered) { r.RepeatOf = "cases/330421-2026-000002" }),
		event("e6", "330421-2026-000015", func(r *eventsv1.CaseRegistered) { r.ReceiveTime = nil }),
	}
	// Two earlier cases: 000001 finally closed, 000002 open.
	prepare := func(t *testing.T) *Server {
		s, _ := newServer(t)
		register(t, s, reg{number: "330421-2026-000001"})
		register(t, s, reg{number: "330421-2026-000002"})
		if _, err := s.Store.Pool.Exec(ctx, `UPDATE cases SET state = $1 WHERE case_number = '330421-2026-000001'`, int16(final)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	one, batch := prepare(t), prepare(t)
	for _, ev := range evs {
		if err := pgdb.InTx(ctx, one.Store.Pool, func(tx pgx.Tx) error { return one.Register(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	for _, split := range [][]*eventsv1.Event{evs[:3], evs[3:]} {
		err := pgdb.InTx(ctx, batch.Store.Pool, func(tx pgx.Tx) error {
			return outbox.ApplyBatch(ctx, tx, batch.BeginRegistrations, split...)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want, got := registrationState(t, one), registrationState(t, batch)
	if got != want {
		t.Errorf("in batches:\n%s\none by one:\n%s", got, want)
	}
	// The two earlier cases' moves and five new cases' (the replay adds
	// none); a repeat of the finally closed matter is not declined by the
	// system.
	if evs, err := outbox.Written(ctx, batch.Store.Pool); err != nil || len(evs) != 7 {
		t.Errorf("%d moves published, %v; want 7", len(evs), err)
	}
	for _, c := range []struct {
		number, township, accused string
		state                     int16
	}{
		{"330421-2026-000011", "330421102", "", 1}, // e1's, not its replay's township
		{"330421-2026-000012", "330421102", "330421103", 1},
		{"330421-2026-000013", "330421102", "", 1}, // repeats the finally closed matter: the holder decides
		{"330421-2026-000014", "330421102", "", 1},
	} {
		var township, accused string
		var state int16
		if err := batch.Store.Pool.QueryRow(ctx, `SELECT township, coalesce(accused_office, ''), state FROM cases WHERE case_number = $1`,
			c.number).Scan(&township, &accused, &state); err != nil {
			t.Fatal(err)
		}
		if township != c.township || accused != c.accused || state != c.state {
			t.Errorf("%s: township %s, accused %q, state %d; want %s, %q, %d", c.number, township, accused, state, c.township, c.accused, c.state)
		}
	}
}

// registrationState lists s's cases, their history and the moves it
// published, in a form two databases can be compared by.
func registrationState(t *testing.T, s *Server) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, q := range []string{
		`SELECT 'case', case_number, state, holder_office, involved_offices::text, coalesce(accused_office, ''),
			coalesce(repeat_of, ''), documents::text, version, create_time FROM cases ORDER BY case_number`,
		`SELECT 'entry', case_number, sequence, action, actor_office, actor_role, from_state, to_state, from_office, to_office,
			note, request_id, CASE WHEN actor_role = 'system' THEN NULL ELSE time END, coalesce(target_office, '')
			FROM case_history ORDER BY case_number, sequence`,
	} {
		rows, err := s.Store.Pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, v...)
		}
	}
	evs, err := outbox.Written(ctx, s.Store.Pool)
	if err != nil {
		t.Fatal(err)
	}
	// Each case's moves in feed order; the cases' among themselves may
	// differ (a batch publishes its registrations first).
	slices.SortStableFunc(evs, func(a, b *eventsv1.Event) int { return strings.Compare(a.GetCaseNumber(), b.GetCaseNumber()) })
	for _, ev := range evs {
		// A decline's time is the transaction's (the clock's, not the
		// event's).
		mv := ev.GetCaseMoved()
		mv.GetEntry().Time = nil
		at := ev.GetOccurTime().AsTime().String()
		if mv.GetEntry().GetActorRole() == "system" {
			at = "now"
		}
		fmt.Fprintln(&b, "move", ev.GetCaseNumber(), at, mv)
	}
	return b.String()
}
