// Package store is reporting's read model: one row of facts per case, and
// the figures computed from them.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store wraps reporting's pool.
type Store struct{ Pool *pgxpool.Pool }

// Fact is what one move adds to a case's facts.
type Fact struct {
	CaseNumber, County, Township string
	Registered, ReferredUp       bool
	Transferred, Answered        bool
	At                           time.Time
}

// Apply merges f into the case's row; facts only ever accumulate, so
// applying a move twice, or moves out of order, gives the same row.
func (s *Store) Apply(ctx context.Context, tx pgx.Tx, f Fact) error {
	const q = `INSERT INTO case_facts AS c (case_number, county, township, registered_at, referred_up, transferred, answered_at)
		VALUES ($1, $2, $3, CASE WHEN $4 THEN $8::timestamptz END, $5, $6, CASE WHEN $7 THEN $8::timestamptz END)
		ON CONFLICT (case_number) DO UPDATE SET
			registered_at = COALESCE(c.registered_at, EXCLUDED.registered_at),
			referred_up   = c.referred_up OR EXCLUDED.referred_up,
			transferred   = c.transferred OR EXCLUDED.transferred,
			answered_at   = COALESCE(c.answered_at, EXCLUDED.answered_at)`
	if _, err := tx.Exec(ctx, q, f.CaseNumber, f.County, f.Township, f.Registered, f.ReferredUp, f.Transferred, f.Answered, f.At); err != nil {
		return fmt.Errorf("store.Apply: %w", err)
	}
	return nil
}

// Figures are the counts of one township (or of the county when Township
// is empty).
type Figures struct {
	Township                                      string
	Registered, ReferredUp, Transferred, Answered int64
}

// ByTownship returns the figures of each township of county that has
// cases; with township set, of that township only. Only registered cases
// count.
func (s *Store) ByTownship(ctx context.Context, county, township string) ([]Figures, error) {
	const q = `SELECT township, count(*), count(*) FILTER (WHERE referred_up), count(*) FILTER (WHERE transferred),
		count(*) FILTER (WHERE answered_at IS NOT NULL)
		FROM case_facts WHERE county = $1 AND ($2 = '' OR township = $2) AND registered_at IS NOT NULL
		GROUP BY township ORDER BY township`
	rows, err := s.Pool.Query(ctx, q, county, township)
	if err != nil {
		return nil, fmt.Errorf("store.ByTownship: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Figures, error) {
		var f Figures
		err := r.Scan(&f.Township, &f.Registered, &f.ReferredUp, &f.Transferred, &f.Answered)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("store.ByTownship: %w", err)
	}
	return out, nil
}
