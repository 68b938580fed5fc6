// Package store is intake's SQL: registrations and corrections (store.go),
// case numbers (numbers.go), the sealed petitioners and query codes
// (petitioners.go), lists (list.go), repeats and bulk imports (bulk.go),
// attachments (attachments.go), and the projection of assignment's moves
// (moves.go).
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/protect"
)

// ErrNotFound says the case does not exist.
var ErrNotFound = fault.ErrCaseNotFound

// ErrDuplicateExternal says another case already has the same
// (source system, external id).
var ErrDuplicateExternal = errors.New("a case with this source system and external id exists")

// Petitioner is one petitioner with their identity. It never reaches a
// log: its LogValue is redacted.
type Petitioner struct {
	Kind                  int16 // 1 person, 2 organisation
	Representative        bool
	Name, IDNumber, Phone string
}

// LogValue implements [slog.LogValuer].
func (Petitioner) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Case is one registered petition with its projected state.
type Case struct {
	Number         string
	County         string
	Township       string
	Channel        int16
	Class          int16
	Topic          string
	Subject        string
	Content        string
	Anonymous      bool
	HeadCount      int32
	Petitioners    []Petitioner
	RegisteredBy   string // office id
	RegisteredRole string
	ReceiveTime    time.Time
	CreateTime     time.Time
	State          int16
	Holder         string   // office id
	Involved       []string // office ids that registered or held it
	History        [][]byte // serialized HistoryEntry, oldest first (Get only)
	SourceSystem   string   // with ExternalID: the outside system's id of the case
	ExternalID     string
	RepeatOf       string // the first case of the matter, for a repeat
	// RepeatRoot is RepeatOf's offices and state when the registration's
	// repeat look-up read them (not stored).
	RepeatRoot *Root
	Accused    string // for an accusation: the accused office id, if any
	// QueryCodeHash is set for a case whose query code was drawn at random
	// before codes were derived (QueryCode); nil otherwise.
	QueryCodeHash []byte
	Version       int64 // the registration's: one per correction
	// Moves is the sequence of the last move projected from assignment (0
	// until the first arrives): the other half of the case's etag.
	Moves      int64
	UpdateTime time.Time
}

// Store wraps intake's pool. Identity is sealed with Keys on the way in and
// opened on the way out; the database never holds it in clear.
type Store struct {
	Pool *pgxpool.Pool
	Keys *protect.Keys

	sequences sync.Map // case-number sequences known to exist
}

// Insert stores a new case with its petitioners. Its times and version are
// drawn here, not by the database, so that in a
// pgdb.Pipeline the row travels with the transaction's next round trip:
// CreateTime is now unless set already (a demonstration load's backdated
// registration). A duplicate (source system, external id) is
// ErrDuplicateExternal, at once in an ordinary transaction and from the
// next round trip in a pipeline (a pgdb.DeferredError wrapping it).
func (s *Store) Insert(ctx context.Context, tx pgx.Tx, c *Case) error {
	const q = `INSERT INTO cases (case_number, county, township, channel, case_class, topic, subject, content,
		anonymous, head_count, registered_by, registered_role, receive_time, state, holder_office, involved_offices,
		source_system, external_id, repeat_of, accused_office, create_time, update_time, version)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,NULLIF($17,''),NULLIF($18,''),NULLIF($19,''),NULLIF($20,''),
			$21, $22, $23)`
	if c.CreateTime.IsZero() {
		c.CreateTime = time.Now()
	}
	c.CreateTime = c.CreateTime.UTC().Truncate(time.Microsecond) // as stored
	c.UpdateTime, c.Version = c.CreateTime, 1
	err := pgdb.LaterAs(ctx, tx, duplicateExternal, q, c.Number, c.County, c.Township, c.Channel, c.Class, c.Topic, c.Subject, c.Content,
		c.Anonymous, c.HeadCount, c.RegisteredBy, c.RegisteredRole, c.ReceiveTime, c.State, c.Holder, c.Involved,
		c.SourceSystem, c.ExternalID, c.RepeatOf, c.Accused, c.CreateTime, c.UpdateTime, c.Version)
	if errors.Is(err, ErrDuplicateExternal) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store.Insert: %w", err)
	}
	return s.insertPetitioners(ctx, tx, c)
}

const caseColumns = `case_number, county, township, channel, case_class, topic, subject, content,
	anonymous, head_count, registered_by, registered_role, receive_time, create_time, state, holder_office,
	involved_offices, coalesce(source_system, ''), coalesce(external_id, ''), coalesce(repeat_of, ''),
	version, update_time, coalesce(accused_office, ''), query_code_hash,
	(SELECT coalesce(max(h.sequence), 0) FROM case_history h WHERE h.case_number = cases.case_number)`

func scanCase(row pgx.Row) (*Case, error) {
	var c Case
	err := row.Scan(&c.Number, &c.County, &c.Township, &c.Channel, &c.Class, &c.Topic, &c.Subject, &c.Content,
		&c.Anonymous, &c.HeadCount, &c.RegisteredBy, &c.RegisteredRole, &c.ReceiveTime, &c.CreateTime, &c.State,
		&c.Holder, &c.Involved, &c.SourceSystem, &c.ExternalID, &c.RepeatOf, &c.Version, &c.UpdateTime, &c.Accused, &c.QueryCodeHash, &c.Moves)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &c, err
}

// Get returns a case with its petitioners (identity opened) and history.
func (s *Store) Get(ctx context.Context, number string) (*Case, error) {
	return s.get(ctx, number, true)
}

// GetWithoutIdentity returns a case with its history and no petitioners:
// nothing sealed is opened.
func (s *Store) GetWithoutIdentity(ctx context.Context, number string) (*Case, error) {
	return s.get(ctx, number, false)
}

// get reads a case, its history and (with identity) its petitioners in one
// round trip.
func (s *Store) get(ctx context.Context, number string, identity bool) (*Case, error) {
	var (
		c       *Case
		caseErr error
		history [][]byte
		sealed  map[string][]Petitioner
		b       = &pgx.Batch{}
	)
	b.Queue(`SELECT `+caseColumns+` FROM cases WHERE case_number = $1`, number).QueryRow(func(row pgx.Row) error {
		c, caseErr = scanCase(row)
		return nil // a missing case is not the batch's failure
	})
	b.Queue(`SELECT entry FROM case_history WHERE case_number = $1 ORDER BY sequence`, number).Query(func(rows pgx.Rows) error {
		var err error
		history, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		return err
	})
	if identity {
		b.Queue(petitionersSQL, []string{number}).Query(func(rows pgx.Rows) error {
			var err error
			sealed, err = s.openPetitioners(rows)
			return err
		})
	}
	if err := s.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store.Get: %w", err)
	}
	if errors.Is(caseErr, ErrNotFound) {
		return nil, caseErr
	} else if caseErr != nil {
		return nil, fmt.Errorf("store.Get: %w", caseErr)
	}
	c.History, c.Petitioners = history, sealed[number]
	return c, nil
}

// Lock returns a case (without petitioners and history) locked FOR UPDATE
// until tx ends.
func (s *Store) Lock(ctx context.Context, tx pgx.Tx, number string) (*Case, error) {
	c, err := scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE case_number = $1 FOR UPDATE`, number))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("store.Lock: %w", err)
	}
	return c, err
}

// SetRepeat points number at root ("" removes the link). The cases that
// pointed at number follow it to root, so links stay one level deep.
func (s *Store) SetRepeat(ctx context.Context, tx pgx.Tx, number, root string) error {
	if _, err := tx.Exec(ctx, `UPDATE cases SET repeat_of = NULLIF($2, '') WHERE case_number = $1`, number, root); err != nil {
		return fmt.Errorf("store.SetRepeat: %w", err)
	}
	if root != "" {
		if _, err := tx.Exec(ctx, `UPDATE cases SET repeat_of = $2 WHERE repeat_of = $1`, number, root); err != nil {
			return fmt.Errorf("store.SetRepeat: %w", err)
		}
	}
	return nil
}

// Involved returns the offices involved in each of the given cases.
func (s *Store) Involved(ctx context.Context, numbers []string) (map[string]Root, error) {
	rows, err := s.Pool.Query(ctx, `SELECT case_number, involved_offices, state FROM cases WHERE case_number = ANY ($1)`, numbers)
	if err != nil {
		return nil, fmt.Errorf("store.Involved: %w", err)
	}
	defer rows.Close()
	out := map[string]Root{}
	for rows.Next() {
		var num string
		var r Root
		if err := rows.Scan(&num, &r.Involved, &r.State); err != nil {
			return nil, fmt.Errorf("store.Involved: %w", err)
		}
		out[num] = r
	}
	return out, rows.Err()
}

// Root is what a repeat needs of the first case of its matter: who may see
// it, and its projected state.
type Root struct {
	Involved []string
	State    int16
}

// FindExternal returns the number of the case registered with the given
// (source system, external id), or ErrNotFound.
func (s *Store) FindExternal(ctx context.Context, source, external string) (string, error) {
	var num string
	err := s.Pool.QueryRow(ctx, `SELECT case_number FROM cases WHERE source_system = $1 AND external_id = $2`, source, external).Scan(&num)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	} else if err != nil {
		return "", fmt.Errorf("store.FindExternal: %w", err)
	}
	return num, nil
}

// Correction is who corrects which fields of a registration.
type Correction struct {
	Fields                 []string // proto field names, e.g. "subject"
	ActorOffice, ActorRole string
	RequestID              string
	Reason                 string // why a finished case is corrected ("" while it runs)
}

// Update writes the corrected fields of c (a case read with Lock and then
// changed), bumps its version, re-seals its petitioners when they are among
// the fields, and records the correction. It sets c.Version and
// c.UpdateTime.
func (s *Store) Update(ctx context.Context, tx pgx.Tx, c *Case, corr Correction) error {
	const q = `UPDATE cases SET subject = $2, content = $3, topic = $4, receive_time = $5, head_count = $6,
		anonymous = $7, version = version + 1, update_time = now()
		WHERE case_number = $1 RETURNING version, update_time`
	if err := tx.QueryRow(ctx, q, c.Number, c.Subject, c.Content, c.Topic, c.ReceiveTime, c.HeadCount, c.Anonymous).
		Scan(&c.Version, &c.UpdateTime); err != nil {
		return fmt.Errorf("store.Update: %w", err)
	}
	if slices.Contains(corr.Fields, "receive_time") && !slices.Contains(corr.Fields, "petitioners") {
		// The repeat look-up reads the petitioners by their case's receive time.
		if _, err := tx.Exec(ctx, `UPDATE petitioners SET receive_time = $2 WHERE case_number = $1`, c.Number, c.ReceiveTime); err != nil {
			return fmt.Errorf("store.Update petitioners: %w", err)
		}
	}
	if slices.Contains(corr.Fields, "petitioners") {
		if _, err := tx.Exec(ctx, `DELETE FROM petitioners WHERE case_number = $1`, c.Number); err != nil {
			return fmt.Errorf("store.Update petitioners: %w", err)
		}
		if err := s.insertPetitioners(ctx, tx, c); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO case_changes (case_number, version, time, actor_office, actor_role, fields, request_id, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''))`, c.Number, c.Version, c.UpdateTime, corr.ActorOffice, corr.ActorRole, corr.Fields, corr.RequestID, corr.Reason)
	if err != nil {
		return fmt.Errorf("store.Update record: %w", err)
	}
	return nil
}

// LockFull is Lock with the petitioners opened.
func (s *Store) LockFull(ctx context.Context, tx pgx.Tx, number string) (*Case, error) {
	c, err := s.Lock(ctx, tx, number)
	if err != nil {
		return nil, err
	}
	ps, err := s.petitioners(ctx, []string{number})
	if err != nil {
		return nil, err
	}
	c.Petitioners = ps[number]
	return c, nil
}
