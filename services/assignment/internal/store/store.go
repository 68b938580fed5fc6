// Package store is assignment's SQL: cases with their holder and state,
// and their append-only history.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/rpcerr"
)

// ErrNotFound says the case does not exist.
var ErrNotFound = rpcerr.ErrCaseNotFound

// Case is assignment's row of a case. Offices are ids ("330421102").
type Case struct {
	Number        string
	County        string
	Township      string
	Class         int16
	RegisteredBy  string
	State         int16
	Holder        string
	Involved      []string
	Version       int64
	AnswerOutcome int16
	AnswerText    string
	AnswerOffice  string
	AnswerTime    time.Time
	CreateTime    time.Time
	UpdateTime    time.Time
}

// Entry is one history row.
type Entry struct {
	CaseNumber  string
	Sequence    int64
	Action      int16
	Time        time.Time
	ActorOffice string
	ActorRole   string
	FromState   int16
	ToState     int16
	FromOffice  string
	ToOffice    string
	Note        string
	RequestID   string
}

// Store wraps assignment's pool.
type Store struct{ Pool *pgxpool.Pool }

const caseColumns = `case_number, county, township, case_class, registered_by, state, holder_office,
	involved_offices, version, COALESCE(answer_outcome, 0), COALESCE(answer_text, ''), COALESCE(answer_office, ''),
	COALESCE(answer_time, 'epoch'), create_time, update_time`

func scanCase(row pgx.Row) (*Case, error) {
	var c Case
	err := row.Scan(&c.Number, &c.County, &c.Township, &c.Class, &c.RegisteredBy, &c.State, &c.Holder,
		&c.Involved, &c.Version, &c.AnswerOutcome, &c.AnswerText, &c.AnswerOffice, &c.AnswerTime, &c.CreateTime, &c.UpdateTime)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &c, err
}

// Create inserts a case registered by intake, with its first history entry.
// It reports false when the case already exists (a replayed event).
func (s *Store) Create(ctx context.Context, tx pgx.Tx, c *Case, first *Entry) (bool, error) {
	const q = `INSERT INTO cases (case_number, county, township, case_class, registered_by, state, holder_office,
		involved_offices, create_time, update_time) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9)
		ON CONFLICT (case_number) DO NOTHING`
	tag, err := tx.Exec(ctx, q, c.Number, c.County, c.Township, c.Class, c.RegisteredBy, c.State, c.Holder, c.Involved, c.CreateTime)
	if err != nil {
		return false, fmt.Errorf("store.Create: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	return true, s.AddEntry(ctx, tx, first)
}

// Get returns a case.
func (s *Store) Get(ctx context.Context, number string) (*Case, error) {
	c, err := scanCase(s.Pool.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE case_number = $1`, number))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store.Get: %w", err)
	}
	return c, err
}

// Lock returns a case locked FOR UPDATE until tx ends.
func (s *Store) Lock(ctx context.Context, tx pgx.Tx, number string) (*Case, error) {
	c, err := scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE case_number = $1 FOR UPDATE`, number))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store.Lock: %w", err)
	}
	return c, err
}

// Save writes a moved case (state, holder, involved offices, answer),
// bumps its version, and sets c.Version and c.UpdateTime.
func (s *Store) Save(ctx context.Context, tx pgx.Tx, c *Case) error {
	var outcome any
	if c.AnswerOutcome != 0 {
		outcome = c.AnswerOutcome
	}
	var answerTime any
	if !c.AnswerTime.IsZero() && c.AnswerTime.Unix() != 0 {
		answerTime = c.AnswerTime
	}
	const q = `UPDATE cases SET state = $2, holder_office = $3, involved_offices = $4, version = version + 1,
		answer_outcome = $5, answer_text = NULLIF($6, ''), answer_office = NULLIF($7, ''), answer_time = $8,
		update_time = now()
		WHERE case_number = $1 RETURNING version, update_time`
	err := tx.QueryRow(ctx, q, c.Number, c.State, c.Holder, c.Involved, outcome, c.AnswerText, c.AnswerOffice, answerTime).
		Scan(&c.Version, &c.UpdateTime)
	if err != nil {
		return fmt.Errorf("store.Save: %w", err)
	}
	return nil
}

// AddEntry appends e to the case's history with the next sequence number,
// and sets e.Sequence and e.Time.
func (s *Store) AddEntry(ctx context.Context, tx pgx.Tx, e *Entry) error {
	const q = `INSERT INTO case_history (case_number, sequence, action, actor_office, actor_role,
		from_state, to_state, from_office, to_office, note, request_id, time)
		SELECT $1, COALESCE(MAX(sequence), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now())
		FROM case_history WHERE case_number = $1
		RETURNING sequence, time`
	var at any
	if !e.Time.IsZero() {
		at = e.Time
	}
	err := tx.QueryRow(ctx, q, e.CaseNumber, e.Action, e.ActorOffice, e.ActorRole, e.FromState, e.ToState,
		e.FromOffice, e.ToOffice, e.Note, e.RequestID, at).Scan(&e.Sequence, &e.Time)
	if err != nil {
		return fmt.Errorf("store.AddEntry: %w", err)
	}
	return nil
}

// History returns entries of a case, oldest first.
func (s *Store) History(ctx context.Context, number string, offset int64, limit int) ([]*Entry, error) {
	const q = `SELECT case_number, sequence, action, time, actor_office, actor_role, from_state, to_state,
		from_office, to_office, note, request_id
		FROM case_history WHERE case_number = $1 ORDER BY sequence OFFSET $2 LIMIT $3`
	rows, err := s.Pool.Query(ctx, q, number, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store.History: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Entry, error) {
		var e Entry
		err := r.Scan(&e.CaseNumber, &e.Sequence, &e.Action, &e.Time, &e.ActorOffice, &e.ActorRole,
			&e.FromState, &e.ToState, &e.FromOffice, &e.ToOffice, &e.Note, &e.RequestID)
		return &e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store.History: %w", err)
	}
	return out, nil
}

// Queue returns the open cases office holds (answered ones are done), oldest
// move first.
func (s *Store) Queue(ctx context.Context, office string, offset int64, limit int) ([]*Case, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+caseColumns+` FROM cases WHERE holder_office = $1 AND state <> 3
		ORDER BY update_time, case_number OFFSET $2 LIMIT $3`, office, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store.Queue: %w", err)
	}
	defer rows.Close()
	var out []*Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("store.Queue: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
