package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/platform/pgdb"
)

// Move is one of assignment's moves to project.
type Move struct {
	CaseNumber string
	Sequence   int64
	ToState    int16
	ToOffice   string // office id
	// Parties are those the move makes party to the case, who may see it
	// from then on (policy.MoveParties).
	Parties []string
	Entry   []byte // serialized HistoryEntry
	// Ends says the move ended the case (closed, final, declined) at Time.
	Ends bool
	Time time.Time
}

// ApplyMove projects a move: it records the history entry, and when the
// move is newer than what the case shows, its state and holder; the move's
// parties join those who may see the case.
func (s *Store) ApplyMove(ctx context.Context, tx pgx.Tx, m Move) error {
	// One statement: the entry, and the case's state when the entry is new.
	// In a pipeline (the consumer's batch) it waits for the next round trip:
	// a batch's moves travel together, with its commit.
	//
	// A move that changes nothing the row shows (a case's first move,
	// REGISTER, names the state and holder intake wrote) leaves the row
	// alone: an update would write a new version of it and, unless its page
	// has room, an entry in each of its indexes, once per registration.
	// history_seq then stays at the last move that changed the row, which
	// orders the same: a replay of a move after it restores what the row
	// already holds.
	err := pgdb.Later(ctx, tx, `WITH entry AS (INSERT INTO case_history (case_number, sequence, entry) VALUES ($1, $2, $8)
			ON CONFLICT DO NOTHING RETURNING 1)
		UPDATE cases SET
			state = CASE WHEN history_seq < $2 THEN $3 ELSE state END,
			holder_office = CASE WHEN history_seq < $2 THEN $4 ELSE holder_office END,
			end_time = CASE WHEN history_seq < $2 THEN (CASE WHEN $6 THEN $7::timestamptz END) ELSE end_time END,
			history_seq = GREATEST(history_seq, $2),
			involved_offices = involved_offices
				|| ARRAY(SELECT p FROM unnest($5::text[]) WITH ORDINALITY AS u(p, i) WHERE NOT p = ANY (involved_offices) ORDER BY i)
		WHERE case_number = $1 AND EXISTS (SELECT FROM entry) AND (
			(history_seq < $2 AND (state <> $3 OR holder_office <> $4
				OR end_time IS DISTINCT FROM (CASE WHEN $6 THEN $7::timestamptz END)))
			OR NOT $5::text[] <@ involved_offices)`,
		m.CaseNumber, m.Sequence, m.ToState, m.ToOffice, m.Parties, m.Ends, m.Time, m.Entry)
	if err != nil {
		if isForeignKey(err) {
			return fmt.Errorf("store.ApplyMove: %w: %s", ErrNotFound, m.CaseNumber)
		}
		return fmt.Errorf("store.ApplyMove: %w", err)
	}
	return nil
}
