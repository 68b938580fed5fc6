// Package store is assignment's SQL: cases with their holder and state,
// and their append-only history.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protojson"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"

	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// ErrNotFound says the case does not exist.
var ErrNotFound = fault.ErrCaseNotFound

// Case is assignment's row of a case. Offices are ids ("330421102").
type Case struct {
	Number            string
	County            string
	Township          string
	Class             int16
	RegisteredBy      string
	State             int16
	Holder            string
	Pending           string // the organ a transfer waits on
	Involved          []string
	Accused           string
	LitigationRelated bool
	Urgent            bool
	RepeatOf          string
	Version           int64 // the moves': the sequence of the last history entry
	// RegistrationVersion is intake's version of the registration, as its
	// feed last told (the first part of the case's etag).
	RegistrationVersion int64
	TransferTime        time.Time
	AcceptTime          time.Time
	AnswerTime          time.Time
	NextInstanceDue     time.Time // a date (midnight UTC); zero when none
	// Deadlines are the case's statutory clocks, as scheduling published
	// them, running ones first (read only).
	Deadlines []*assignmentv1.Deadline
	// Docs holds the documents (answer, decline, extension, evaluation,
	// review, re-review, assignment); never nil.
	Docs       *assignmentv1.Case
	CreateTime time.Time
	UpdateTime time.Time
	// ReceiveTime is when the petition was received; known only while the
	// registration is taken from intake's event (for the clocks), not stored.
	ReceiveTime time.Time
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
	Target      string
	Note        string
	RequestID   string
	// Received is when the office signing for a case received it (the
	// transfer): carried on the move's event, not stored.
	Received time.Time
}

// Store wraps assignment's pool.
type Store struct{ Pool *pgxpool.Pool }

const caseColumns = `case_number, county, township, case_class, registered_by, state, holder_office,
	COALESCE(pending_office, ''), involved_offices, COALESCE(accused_office, ''), litigation_related,
	COALESCE(repeat_of, ''), version, COALESCE(transfer_time, 'epoch'), COALESCE(accept_time, 'epoch'),
	COALESCE(answer_time, 'epoch'), COALESCE(next_instance_due, 'epoch'), documents, create_time, update_time, urgent,
	(SELECT COALESCE(jsonb_agg(d.deadline ORDER BY NOT d.running, d.kind), '[]') FROM deadlines d WHERE d.case_number = cases.case_number),
	registration_version`

func scanCase(row pgx.Row) (*Case, error) {
	var c Case
	var docs, deadlines []byte
	var nextDue time.Time
	err := row.Scan(&c.Number, &c.County, &c.Township, &c.Class, &c.RegisteredBy, &c.State, &c.Holder,
		&c.Pending, &c.Involved, &c.Accused, &c.LitigationRelated, &c.RepeatOf, &c.Version,
		&c.TransferTime, &c.AcceptTime, &c.AnswerTime, &nextDue, &docs, &c.CreateTime, &c.UpdateTime, &c.Urgent, &deadlines, &c.RegistrationVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.TransferTime, c.AcceptTime, c.AnswerTime = unepoch(c.TransferTime), unepoch(c.AcceptTime), unepoch(c.AnswerTime)
	c.NextInstanceDue = unepoch(nextDue)
	c.Docs = &assignmentv1.Case{}
	if err := protojson.Unmarshal(docs, c.Docs); err != nil {
		return nil, fmt.Errorf("case %s: documents: %w", c.Number, err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(deadlines, &raw); err != nil {
		return nil, fmt.Errorf("case %s: deadlines: %w", c.Number, err)
	}
	for _, r := range raw {
		d := &assignmentv1.Deadline{}
		if err := protojson.Unmarshal(r, d); err != nil {
			return nil, fmt.Errorf("case %s: deadline: %w", c.Number, err)
		}
		c.Deadlines = append(c.Deadlines, d)
	}
	return &c, nil
}

func unepoch(t time.Time) time.Time {
	if t.Unix() == 0 {
		return time.Time{}
	}
	return t
}

func orNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// Create inserts a case registered by intake, with its first history entry.
// It reports false when the case already exists (a replayed event).
func (s *Store) Create(ctx context.Context, tx pgx.Tx, c *Case, first *Entry) (bool, error) {
	docs, err := marshalDocs(c)
	if err != nil {
		return false, err
	}
	const q = `INSERT INTO cases (case_number, county, township, case_class, registered_by, state, holder_office,
		involved_offices, accused_office, repeat_of, documents, create_time, update_time)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,NULLIF($9,''),NULLIF($10,''),$11,$12,$12)
		ON CONFLICT (case_number) DO NOTHING`
	tag, err := tx.Exec(ctx, q, c.Number, c.County, c.Township, c.Class, c.RegisteredBy, c.State, c.Holder, c.Involved,
		c.Accused, c.RepeatOf, docs, c.CreateTime)
	if err != nil {
		return false, fmt.Errorf("store.Create: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	return true, s.AddEntry(ctx, tx, first)
}

// CreateAll is Create for many cases at once (a batch of intake's feed),
// in one round trip: it inserts those not there yet, with their first
// entries (sequence 1), and reports which were new.
func (s *Store) CreateAll(ctx context.Context, tx pgx.Tx, cases []*Case, firsts []*Entry) ([]bool, error) {
	n := len(cases)
	var (
		number, county, township, registeredBy, holder, involved, accused, repeatOf = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		class, state                                                                = make([]int16, n), make([]int16, n)
		docs                                                                        = make([]string, n)
		created                                                                     = make([]time.Time, n)
		action, fromState, toState                                                  = make([]int16, n), make([]int16, n), make([]int16, n)
		actorOffice, actorRole, fromOffice, toOffice, note, requestID, target       = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at                                                                          = make([]time.Time, n)
	)
	for i, c := range cases {
		d, err := marshalDocs(c)
		if err != nil {
			return nil, err
		}
		inv, err := json.Marshal(c.Involved)
		if err != nil {
			return nil, err
		}
		number[i], county[i], township[i], class[i], registeredBy[i], state[i], holder[i] = c.Number, c.County, c.Township, c.Class, c.RegisteredBy, c.State, c.Holder
		involved[i], accused[i], repeatOf[i], docs[i], created[i] = string(inv), c.Accused, c.RepeatOf, string(d), c.CreateTime
		e := firsts[i]
		action[i], actorOffice[i], actorRole[i], fromState[i], toState[i] = e.Action, e.ActorOffice, e.ActorRole, e.FromState, e.ToState
		fromOffice[i], toOffice[i], note[i], requestID[i], at[i], target[i] = e.FromOffice, e.ToOffice, e.Note, e.RequestID, e.Time, e.Target
	}
	const q = `WITH new AS (
		INSERT INTO cases (case_number, county, township, case_class, registered_by, state, holder_office,
			involved_offices, accused_office, repeat_of, documents, create_time, update_time)
		SELECT c.n, c.co, c.t, c.cl, c.rb, c.st, c.h, ARRAY(SELECT jsonb_array_elements_text(c.inv::jsonb)),
			NULLIF(c.acc, ''), NULLIF(c.rep, ''), c.docs, c.at, c.at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::smallint[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::jsonb[], $12::timestamptz[]) AS c(n, co, t, cl, rb, st, h, inv, acc, rep, docs, at)
		ON CONFLICT (case_number) DO NOTHING
		RETURNING case_number),
	entries AS (
		INSERT INTO case_history (case_number, sequence, action, actor_office, actor_role,
			from_state, to_state, from_office, to_office, note, request_id, time, target_office)
		SELECT e.n, 1, e.a, e.ao, e.ar, e.fs, e.ts, e.fo, e.tof, e.note, e.rid, e.at, e.tg
		FROM unnest($1::text[], $13::smallint[], $14::text[], $15::text[], $16::smallint[], $17::smallint[], $18::text[],
			$19::text[], $20::text[], $21::text[], $22::timestamptz[], $23::text[])
			AS e(n, a, ao, ar, fs, ts, fo, tof, note, rid, at, tg)
		WHERE e.n IN (SELECT case_number FROM new))
	SELECT case_number FROM new`
	rows, err := tx.Query(ctx, q, number, county, township, class, registeredBy, state, holder, involved, accused, repeatOf, docs, created,
		action, actorOffice, actorRole, fromState, toState, fromOffice, toOffice, note, requestID, at, target)
	if err != nil {
		return nil, fmt.Errorf("store.CreateAll: %w", err)
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store.CreateAll: %w", err)
	}
	isNew := make(map[string]bool, len(fresh))
	for _, num := range fresh {
		isNew[num] = true
	}
	out := make([]bool, n)
	for i, c := range cases {
		out[i] = isNew[c.Number]
		if out[i] {
			firsts[i].Sequence = 1
		}
	}
	return out, nil
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

// State returns the state of a case, or ErrNotFound.
func (s *Store) State(ctx context.Context, tx pgx.Tx, number string) (int16, error) {
	var st int16
	err := tx.QueryRow(ctx, `SELECT state FROM cases WHERE case_number = $1`, number).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store.State: %w", err)
	}
	return st, nil
}

func marshalDocs(c *Case) ([]byte, error) {
	if c.Docs == nil {
		return []byte("{}"), nil
	}
	b, err := protojson.Marshal(c.Docs)
	if err != nil {
		return nil, fmt.Errorf("case %s: documents: %w", c.Number, err)
	}
	return b, nil
}

// Save writes a moved case, bumps its version, and sets c.Version and
// c.UpdateTime.
func (s *Store) Save(ctx context.Context, tx pgx.Tx, c *Case) error {
	docs, err := marshalDocs(c)
	if err != nil {
		return err
	}
	var nextDue any
	if !c.NextInstanceDue.IsZero() {
		nextDue = c.NextInstanceDue
	}
	const q = `UPDATE cases SET state = $2, holder_office = $3, pending_office = NULLIF($4, ''), involved_offices = $5,
		litigation_related = $6, transfer_time = $7, accept_time = $8, answer_time = $9, next_instance_due = $10,
		documents = $11, urgent = $12, version = version + 1, update_time = now()
		WHERE case_number = $1 RETURNING version, update_time`
	err = tx.QueryRow(ctx, q, c.Number, c.State, c.Holder, c.Pending, c.Involved, c.LitigationRelated,
		orNull(c.TransferTime), orNull(c.AcceptTime), orNull(c.AnswerTime), nextDue, docs, c.Urgent).Scan(&c.Version, &c.UpdateTime)
	if err != nil {
		return fmt.Errorf("store.Save: %w", err)
	}
	return nil
}

// SetRegistrationVersions records the registrations' versions intake
// published (case number to version); an older one arriving late never
// lowers a newer.
func (s *Store) SetRegistrationVersions(ctx context.Context, tx pgx.Tx, versions map[string]int64) error {
	if len(versions) == 0 {
		return nil
	}
	numbers, vs := make([]string, 0, len(versions)), make([]int64, 0, len(versions))
	for n, v := range versions {
		numbers, vs = append(numbers, n), append(vs, v)
	}
	_, err := tx.Exec(ctx, `UPDATE cases SET registration_version = v.version
		FROM unnest($1::text[], $2::bigint[]) AS v(case_number, version)
		WHERE cases.case_number = v.case_number AND cases.registration_version < v.version`, numbers, vs)
	if err != nil {
		return fmt.Errorf("store.SetRegistrationVersions: %w", err)
	}
	return nil
}

// SetRepeat records the case number repeats ("" for none), as intake's
// clerks linked it.
func (s *Store) SetRepeat(ctx context.Context, tx pgx.Tx, number, repeatOf string) error {
	if _, err := tx.Exec(ctx, `UPDATE cases SET repeat_of = NULLIF($2, '') WHERE case_number = $1`, number, repeatOf); err != nil {
		return fmt.Errorf("store.SetRepeat: %w", err)
	}
	return nil
}

// SendBacks lists the offices that sent a case back since the bureau last
// took it over from a send-back (an escalation), in order: the bounce
// guard counts them across every organ.
func (s *Store) SendBacks(ctx context.Context, tx pgx.Tx, number string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT actor_office FROM case_history WHERE case_number = $1 AND action = $2
		AND sequence > (SELECT coalesce(max(sequence), 0) FROM case_history WHERE case_number = $1 AND action = $3)
		ORDER BY sequence`,
		number, int16(assignmentv1.Action_ACTION_SEND_BACK), int16(assignmentv1.Action_ACTION_ESCALATE))
	if err != nil {
		return nil, fmt.Errorf("store.SendBacks: %w", err)
	}
	offices, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store.SendBacks: %w", err)
	}
	return offices, nil
}

// AddEntry appends e to the case's history with the next sequence number,
// and sets e.Sequence and e.Time.
func (s *Store) AddEntry(ctx context.Context, tx pgx.Tx, e *Entry) error {
	const q = `INSERT INTO case_history (case_number, sequence, action, actor_office, actor_role,
		from_state, to_state, from_office, to_office, note, request_id, time, target_office)
		SELECT $1, COALESCE(MAX(sequence), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now()), $12
		FROM case_history WHERE case_number = $1
		RETURNING sequence, time`
	var at any
	if !e.Time.IsZero() {
		at = e.Time
	}
	err := tx.QueryRow(ctx, q, e.CaseNumber, e.Action, e.ActorOffice, e.ActorRole, e.FromState, e.ToState,
		e.FromOffice, e.ToOffice, e.Note, e.RequestID, at, e.Target).Scan(&e.Sequence, &e.Time)
	if err != nil {
		return fmt.Errorf("store.AddEntry: %w", err)
	}
	return nil
}

// History returns entries of a case, oldest first.
func (s *Store) History(ctx context.Context, number string, offset int64, limit int) ([]*Entry, error) {
	const q = `SELECT case_number, sequence, action, time, actor_office, actor_role, from_state, to_state,
		from_office, to_office, note, request_id, target_office
		FROM case_history WHERE case_number = $1 ORDER BY sequence OFFSET $2 LIMIT $3`
	rows, err := s.Pool.Query(ctx, q, number, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store.History: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Entry, error) {
		var e Entry
		err := r.Scan(&e.CaseNumber, &e.Sequence, &e.Action, &e.Time, &e.ActorOffice, &e.ActorRole,
			&e.FromState, &e.ToState, &e.FromOffice, &e.ToOffice, &e.Note, &e.RequestID, &e.Target)
		return &e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store.History: %w", err)
	}
	return out, nil
}

// Queue returns the cases waiting on office, urgent ones first, then oldest
// move first: those it
// holds that still need its action (states in open), and the transfers
// waiting for it to sign for them.
func (s *Store) Queue(ctx context.Context, office string, open []int16, offset int64, limit int) ([]*Case, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE (holder_office = $1 AND state = ANY ($4)) OR (pending_office = $1 AND state = 4)
		ORDER BY urgent DESC, update_time, case_number OFFSET $2 LIMIT $3`, office, offset, limit, open)
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

// Involvement is who may see a case: its county and the offices involved.
type Involvement struct {
	County   string
	Involved []string
}

// Involved returns the involvement of each of the cases that exists.
func (s *Store) Involved(ctx context.Context, numbers []string) (map[string]Involvement, error) {
	rows, err := s.Pool.Query(ctx, `SELECT case_number, county, involved_offices FROM cases WHERE case_number = ANY ($1)`, numbers)
	if err != nil {
		return nil, fmt.Errorf("store.Involved: %w", err)
	}
	defer rows.Close()
	out := map[string]Involvement{}
	for rows.Next() {
		var num string
		var inv Involvement
		if err := rows.Scan(&num, &inv.County, &inv.Involved); err != nil {
			return nil, fmt.Errorf("store.Involved: %w", err)
		}
		out[num] = inv
	}
	return out, rows.Err()
}

// PutDeadline stores the clock scheduling published for a case at version
// (ClockChanged.version; 0 from events older than versions, always
// applied); an older state than the one stored is ignored, and so is a
// case assignment does not know.
func (s *Store) PutDeadline(ctx context.Context, tx pgx.Tx, number string, d *assignmentv1.Deadline, version int64) error {
	b, err := protojson.Marshal(d)
	if err != nil {
		return fmt.Errorf("store.PutDeadline: %w", err)
	}
	// In a pipeline (the consumer's batch) it waits for the next round trip.
	err = pgdb.Later(ctx, tx, `INSERT INTO deadlines (case_number, kind, running, deadline, version)
		SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM cases WHERE case_number = $1)
		ON CONFLICT (case_number, kind) DO UPDATE SET running = EXCLUDED.running, deadline = EXCLUDED.deadline, version = EXCLUDED.version
		WHERE EXCLUDED.version = 0 OR deadlines.version < EXCLUDED.version`,
		number, int16(d.GetKind()), d.GetStopTime() == nil, b, version)
	if err != nil {
		return fmt.Errorf("store.PutDeadline: %w", err)
	}
	return nil
}

// AddHolidayNotice keeps a holiday notice loaded at run time (once a year).
func (s *Store) AddHolidayNotice(ctx context.Context, tx pgx.Tx, year int, text string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO calendar_notices (year, text) VALUES ($1, $2) ON CONFLICT DO NOTHING`, year, text); err != nil {
		return fmt.Errorf("store.AddHolidayNotice: %w", err)
	}
	return nil
}

// Querier is a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// HolidayNotices returns the texts of the notices loaded at run time, read
// through q (the pool, or a transaction that has just added one).
func (s *Store) HolidayNotices(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT text FROM calendar_notices ORDER BY year`)
	if err != nil {
		return nil, fmt.Errorf("store.HolidayNotices: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
