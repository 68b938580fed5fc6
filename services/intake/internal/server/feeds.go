package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	_ "time/tzdata" // Asia/Shanghai on machines without zoneinfo

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// ProjectMove applies one of assignment's events to intake's projection.
func (s *Server) ProjectMove(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	mv := ev.GetCaseMoved()
	if mv == nil {
		return nil
	}
	entry := mv.GetEntry()
	b, err := proto.Marshal(entry)
	if err != nil {
		return fmt.Errorf("marshal history entry: %w", err)
	}
	to, _ := names.OfficeID(entry.GetToOffice())
	st := entry.GetToState()
	return s.Store.ApplyMove(ctx, tx, store.Move{
		Parties:    policy.MoveParties(mv),
		CaseNumber: ev.GetCaseNumber(),
		Sequence:   entry.GetSequence(),
		ToState:    int16(st),
		ToOffice:   to,
		Entry:      b,
		Ends: st == assignmentv1.CaseState_CASE_STATE_CLOSED || st == assignmentv1.CaseState_CASE_STATE_FINAL ||
			st == assignmentv1.CaseState_CASE_STATE_DECLINED,
		Time: entry.GetTime().AsTime(),
	})
}

// Retain anonymises, in batches, the identity of the cases that ended
// more than the retention period before now, recording each in the audit
// log in the same transaction; it returns how many it anonymised.
func (s *Server) Retain(ctx context.Context, period time.Duration) (int, error) {
	total := 0
	for {
		var numbers []string
		err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
			var err error
			if numbers, err = s.Store.Anonymise(ctx, tx, s.Now().Add(-period), 200); err != nil || len(numbers) == 0 {
				return err
			}
			entries := make([]audit.Entry, len(numbers))
			for i, n := range numbers {
				entries[i] = audit.Entry{Office: s.Dir.Bureau().ID, Role: "retention", Action: audit.Anonymise, CaseNumber: n,
					Detail: fmt.Sprintf("retention_days=%d", int(period.Hours()/24))}
			}
			return audit.Append(ctx, tx, entries...)
		})
		if err != nil {
			return total, err
		}
		total += len(numbers)
		if len(numbers) < 200 {
			return total, nil
		}
	}
}

// RetentionJob runs Retain every interval until ctx ends.
func (s *Server) RetentionJob(period, interval time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		logger := logging.FromContext(ctx)
		for {
			if n, err := s.Retain(ctx, period); err != nil && ctx.Err() == nil {
				logger.ErrorContext(ctx, "retention: anonymising failed; will retry", slog.String("error", err.Error()))
			} else if n > 0 {
				logger.InfoContext(ctx, "retention: anonymised ended cases", slog.Int("cases", n))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(interval):
			}
		}
	}
}
