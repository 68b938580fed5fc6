package store

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// PrepareNumbers makes sure the case-number sequence of county and year
// exists. Call it before the registration's transaction: creating a
// sequence is DDL, which must not run inside it (nor take a second pooled
// connection while the transaction holds one).
func (s *Store) PrepareNumbers(ctx context.Context, county string, year int) error {
	name, err := sequenceName(county, year)
	if err != nil {
		return err
	}
	if _, ok := s.sequences.Load(name); ok {
		return nil
	}
	// Two first registrations of a year may race to create it: serialise
	// on an advisory lock so that IF NOT EXISTS sees the winner's sequence.
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE SEQUENCE IF NOT EXISTS `+name)
		return err
	})
	if err != nil {
		return fmt.Errorf("store.PrepareNumbers: %w", err)
	}
	s.sequences.Store(name, true)
	return nil
}

// QueueNextNumber queues the draw of the next case number of county and
// year on b (to share a round trip with other statements); into receives
// it when b is sent:
// "330421-2026-000123", from the sequence case_seq_{county}_{year} (see
// PrepareNumbers). A sequence never blocks another registration (a locked
// counter row would serialise every commit of the county) and tolerates
// gaps: a rolled-back registration burns its number.
func QueueNextNumber(b *pgx.Batch, county string, year int, into *string) error {
	name, err := sequenceName(county, year)
	if err != nil {
		return err
	}
	b.Queue(`SELECT nextval($1::regclass)`, name).QueryRow(func(row pgx.Row) error {
		var n int64
		if err := row.Scan(&n); err != nil {
			return fmt.Errorf("store.NextNumber: %w", err)
		}
		*into = caseNumber(county, year, n)
		return nil
	})
	return nil
}

// caseNumber is the readable number: county code, year, sequence.
func caseNumber(county string, year int, seq int64) string {
	return fmt.Sprintf("%s-%04d-%06d", county, year, seq)
}

var countyCode = regexp.MustCompile(`^[0-9]{6}$`)

func sequenceName(county string, year int) (string, error) {
	if !countyCode.MatchString(county) || year < 2000 || year > 9999 {
		return "", fmt.Errorf("store: bad county %q or year %d", county, year)
	}
	return fmt.Sprintf("case_seq_%s_%d", county, year), nil
}
