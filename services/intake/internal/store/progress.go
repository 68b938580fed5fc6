package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// LockProgress takes the public lookup's lock of a case number until tx
// ends, and returns the wrong query codes given for it within window (a
// PostgreSQL interval): concurrent guesses at one case are counted one
// after another, so twenty sent at once get five answers, not twenty.
// Another case's lookups do not wait (the lock is the number's).
func (s *Store) LockProgress(ctx context.Context, tx pgx.Tx, number, window string) (int, error) {
	var failures int
	err := tx.QueryRow(ctx, `WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended('progress/' || $1, 0)))
		SELECT count(*) FROM l, progress_failures WHERE case_number = $1 AND at > now() - $2::interval`,
		number, window).Scan(&failures)
	if err != nil {
		return 0, fmt.Errorf("store.LockProgress: %w", err)
	}
	return failures, nil
}

// pruneBatch is how many failures older than the window each new one
// removes: more than one, so the table shrinks back after a burst.
const pruneBatch = 16

// RecordProgressFailure records a wrong query code for a case number, and
// removes up to pruneBatch failures (of any case) older than window.
func (s *Store) RecordProgressFailure(ctx context.Context, tx pgx.Tx, number, window string) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO progress_failures (case_number) VALUES ($1)`, number)
	b.Queue(`DELETE FROM progress_failures WHERE ctid = ANY (ARRAY(SELECT ctid FROM progress_failures
		WHERE at < now() - $1::interval ORDER BY at LIMIT $2))`, window, pruneBatch)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store.RecordProgressFailure: %w", err)
	}
	return nil
}
