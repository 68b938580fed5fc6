package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// ErrOfficeNotFound says the office does not exist; ErrOfficeExists that
// its id, or the county's only bureau or prefecture bureau, is taken.
var (
	ErrOfficeNotFound = errors.New("store: no such office")
	ErrOfficeExists   = errors.New("store: the office exists")
)

// Office is a row of the directory.
type Office struct {
	directory.Office
	Revision   int64
	UpdateTime time.Time
}

const officeColumns = `id, display_name, kind, duties, closed, revision, update_time`

func scanOffice(row pgx.Row) (*Office, error) {
	var o Office
	var kind string
	err := row.Scan(&o.ID, &o.Name, &kind, &o.Duties, &o.Closed, &o.Revision, &o.UpdateTime)
	o.Kind = directory.Kind(kind)
	return &o, err
}

// SeedOffices adds the offices the table lacks (the directory file's, at
// start); offices already there keep what the administrators made of them.
func (s *Store) SeedOffices(ctx context.Context, county string, offices []directory.Office) error {
	b := &pgx.Batch{}
	for _, o := range offices {
		b.Queue(`INSERT INTO offices (id, county, display_name, kind, duties, closed) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT DO NOTHING`, o.ID, county, o.Name, string(o.Kind), nonNil(o.Duties), o.Closed)
	}
	if err := s.Pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store.SeedOffices: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Offices returns the county's offices and the directory's revision.
func (s *Store) Offices(ctx context.Context, county string) ([]*Office, int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+officeColumns+` FROM offices WHERE county = $1
		ORDER BY kind <> 'bureau', kind <> 'township', id`, county)
	if err != nil {
		return nil, 0, fmt.Errorf("store.Offices: %w", err)
	}
	var out []*Office
	var rev int64
	for rows.Next() {
		o, err := scanOffice(rows)
		if err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("store.Offices: %w", err)
		}
		rev = max(rev, o.Revision)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store.Offices: %w", err)
	}
	return out, rev, nil
}

// Office returns an office.
func (s *Store) Office(ctx context.Context, county, id string) (*Office, error) {
	return office(s.Pool.QueryRow(ctx, `SELECT `+officeColumns+` FROM offices WHERE county = $1 AND id = $2`, county, id))
}

// LockOffice returns an office, locked for update in tx.
func (s *Store) LockOffice(ctx context.Context, tx pgx.Tx, county, id string) (*Office, error) {
	return office(tx.QueryRow(ctx, `SELECT `+officeColumns+` FROM offices WHERE county = $1 AND id = $2 FOR UPDATE`, county, id))
}

func office(row pgx.Row) (*Office, error) {
	o, err := scanOffice(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrOfficeNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store.Office: %w", err)
	}
	return o, nil
}

// InsertOffice adds an office; ErrOfficeExists when the id (or the county's
// bureau or prefecture bureau) is taken.
func (s *Store) InsertOffice(ctx context.Context, tx pgx.Tx, county string, o directory.Office) (*Office, error) {
	row, err := scanOffice(tx.QueryRow(ctx, `INSERT INTO offices (id, county, display_name, kind, duties, closed)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+officeColumns, o.ID, county, o.Name, string(o.Kind), nonNil(o.Duties), o.Closed))
	if pgdb.IsUniqueViolation(err) {
		return nil, ErrOfficeExists
	}
	if err != nil {
		return nil, fmt.Errorf("store.InsertOffice: %w", err)
	}
	return row, nil
}

// UpdateOffice writes an office's name, duties and closed flag, taking the
// next revision.
func (s *Store) UpdateOffice(ctx context.Context, tx pgx.Tx, county string, o directory.Office) (*Office, error) {
	row, err := scanOffice(tx.QueryRow(ctx, `UPDATE offices SET display_name = $3, duties = $4, closed = $5,
		revision = nextval('office_revisions'), update_time = now() WHERE county = $1 AND id = $2 RETURNING `+officeColumns,
		county, o.ID, o.Name, nonNil(o.Duties), o.Closed))
	if err != nil {
		return nil, fmt.Errorf("store.UpdateOffice: %w", err)
	}
	return row, nil
}
