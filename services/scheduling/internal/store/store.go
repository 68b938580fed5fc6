// Package store is scheduling's SQL: the clocks of every case, reminders,
// supervisions (督办), local days off and who may see a case's clocks.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/pgdb"
)

// ErrNotFound says there is no such clock or case.
var ErrNotFound = errors.New("not found")

// Store wraps scheduling's pool.
type Store struct{ Pool *pgxpool.Pool }

// Clock is one statutory clock of a case. Dates (DueDate, RemindOn,
// FixedDue) are days in China at midnight UTC; zero times are unset.
type Clock struct {
	CaseNumber    string
	Kind          int16
	County        string
	Township      string
	Office        string
	Supervised    bool
	StartTime     time.Time
	FixedDue      time.Time
	ExtensionDays int
	DueDate       time.Time
	RemindOn      time.Time
	Provisional   bool
	Rule          string
	StopTime      time.Time
	RemindedAt    time.Time
	OverdueAt     time.Time
	PausedAt      time.Time
	// Version grows with every write of the row (as read; see the
	// clocks_version trigger).
	Version int64
}

const clockColumns = `case_number, kind, county, township, office, supervised, start_time,
	COALESCE(fixed_due, 'epoch'), extension_days, due_date, remind_on, provisional, rule,
	COALESCE(stop_time, 'epoch'), COALESCE(reminded_at, 'epoch'), COALESCE(overdue_at, 'epoch'), COALESCE(paused_at, 'epoch'), version`

func scanClocks(rows pgx.Rows) ([]*Clock, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Clock, error) {
		var c Clock
		err := r.Scan(&c.CaseNumber, &c.Kind, &c.County, &c.Township, &c.Office, &c.Supervised, &c.StartTime,
			&c.FixedDue, &c.ExtensionDays, &c.DueDate, &c.RemindOn, &c.Provisional, &c.Rule,
			&c.StopTime, &c.RemindedAt, &c.OverdueAt, &c.PausedAt, &c.Version)
		for _, t := range []*time.Time{&c.FixedDue, &c.StopTime, &c.RemindedAt, &c.OverdueAt, &c.PausedAt} {
			if t.Unix() == 0 {
				*t = time.Time{}
			}
		}
		return &c, err
	})
}

// Day renders a date (midnight UTC) for a date parameter: explicit text, so
// the session's time zone never shifts it.
func Day(t time.Time) string { return t.Format(time.DateOnly) }

func dayOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return Day(t)
}

func orNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// Start writes a clock that starts (or restarts): a running clock of the
// same kind is replaced, its reminder and supervision flags cleared.
func (s *Store) Start(ctx context.Context, tx pgx.Tx, c *Clock) error {
	const q = `INSERT INTO clocks (case_number, kind, county, township, office, supervised, start_time, fixed_due,
		extension_days, due_date, remind_on, provisional, rule)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8::date,$9,$10::date,$11::date,$12,$13)
		ON CONFLICT (case_number, kind) DO UPDATE SET county = EXCLUDED.county, township = EXCLUDED.township,
			office = EXCLUDED.office, supervised = EXCLUDED.supervised, start_time = EXCLUDED.start_time,
			fixed_due = EXCLUDED.fixed_due, extension_days = EXCLUDED.extension_days, due_date = EXCLUDED.due_date,
			remind_on = EXCLUDED.remind_on, provisional = EXCLUDED.provisional, rule = EXCLUDED.rule,
			stop_time = NULL, reminded_at = NULL, overdue_at = NULL, paused_at = NULL`
	err := pgdb.Later(ctx, tx, q, c.CaseNumber, c.Kind, c.County, c.Township, c.Office, c.Supervised, c.StartTime,
		dayOrNull(c.FixedDue), c.ExtensionDays, Day(c.DueDate), Day(c.RemindOn), c.Provisional, c.Rule)
	if err != nil {
		return fmt.Errorf("store.Start: %w", err)
	}
	return nil
}

// Version returns the version of a clock as this transaction wrote it.
func (s *Store) Version(ctx context.Context, tx pgx.Tx, number string, kind int16) (int64, error) {
	var v int64
	if err := tx.QueryRow(ctx, `SELECT version FROM clocks WHERE case_number = $1 AND kind = $2`, number, kind).Scan(&v); err != nil {
		return 0, fmt.Errorf("store.Version: %w", err)
	}
	return v, nil
}

// LockAll returns the clocks of the cases (a consumer's batch), locked FOR
// UPDATE in case order, in one round trip; each case is looked up by its
// key, whatever the statistics say.
func (s *Store) LockAll(ctx context.Context, tx pgx.Tx, numbers []string) (map[string][]*Clock, error) {
	rows, err := tx.Query(ctx, `SELECT c.* FROM unnest($1::text[]) WITH ORDINALITY AS n(num, i)
		CROSS JOIN LATERAL (SELECT `+clockColumns+` FROM clocks WHERE case_number = n.num ORDER BY kind FOR UPDATE) c
		ORDER BY n.i`, numbers)
	if err != nil {
		return nil, fmt.Errorf("store.LockAll: %w", err)
	}
	all, err := scanClocks(rows)
	if err != nil {
		return nil, fmt.Errorf("store.LockAll: %w", err)
	}
	out := make(map[string][]*Clock, len(numbers))
	for _, c := range all {
		out[c.CaseNumber] = append(out[c.CaseNumber], c)
	}
	return out, nil
}

// Update writes a clock's computed fields and its stop time.
func (s *Store) Update(ctx context.Context, tx pgx.Tx, c *Clock) error {
	const q = `UPDATE clocks SET extension_days = $3, due_date = $4::date, remind_on = $5::date, provisional = $6, rule = $7,
		stop_time = $8, paused_at = $9, overdue_at = CASE WHEN $4::date > due_date THEN NULL ELSE overdue_at END,
		reminded_at = CASE WHEN $5::date > remind_on THEN NULL ELSE reminded_at END
		WHERE case_number = $1 AND kind = $2`
	err := pgdb.Later(ctx, tx, q, c.CaseNumber, c.Kind, c.ExtensionDays, Day(c.DueDate), Day(c.RemindOn), c.Provisional, c.Rule, orNull(c.StopTime), orNull(c.PausedAt))
	if err != nil {
		return fmt.Errorf("store.Update: %w", err)
	}
	return nil
}

// Resolve closes the open supervision of a clock, if any.
func (s *Store) Resolve(ctx context.Context, tx pgx.Tx, number string, kind int16) error {
	if err := pgdb.Later(ctx, tx, `UPDATE supervisions SET resolve_time = now() WHERE case_number = $1 AND kind = $2 AND resolve_time IS NULL`, number, kind); err != nil {
		return fmt.Errorf("store.Resolve: %w", err)
	}
	return nil
}

// ForCase returns the clocks of a case, running ones first.
func (s *Store) ForCase(ctx context.Context, number string) ([]*Clock, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+clockColumns+` FROM clocks WHERE case_number = $1
		ORDER BY stop_time IS NOT NULL, due_date, kind`, number)
	if err != nil {
		return nil, fmt.Errorf("store.ForCase: %w", err)
	}
	return scanClocks(rows)
}

// ForOffice returns the running clocks an office must meet, soonest first.
func (s *Store) ForOffice(ctx context.Context, office string, offset int64, limit int) ([]*Clock, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+clockColumns+` FROM clocks WHERE office = $1 AND stop_time IS NULL
		ORDER BY due_date, case_number, kind OFFSET $2 LIMIT $3`, office, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store.ForOffice: %w", err)
	}
	return scanClocks(rows)
}

// DueBetween returns the running clocks an office must meet whose last day
// is from..to (dates in China), soonest first: one range of the
// clocks_office index, so an office's agenda costs what it shows, not what
// it holds open.
func (s *Store) DueBetween(ctx context.Context, office string, from, to time.Time) ([]*Clock, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+clockColumns+` FROM clocks WHERE office = $1 AND stop_time IS NULL
		AND due_date BETWEEN $2::date AND $3::date ORDER BY due_date, case_number, kind`,
		office, from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("store.DueBetween: %w", err)
	}
	return scanClocks(rows)
}

// Running returns every running clock (to recompute after the calendar
// changes).
func (s *Store) Running(ctx context.Context, tx pgx.Tx) ([]*Clock, error) {
	rows, err := tx.Query(ctx, `SELECT `+clockColumns+` FROM clocks WHERE stop_time IS NULL ORDER BY case_number, kind FOR UPDATE`)
	if err != nil {
		return nil, fmt.Errorf("store.Running: %w", err)
	}
	return scanClocks(rows)
}

// ClaimReminders locks up to limit running, supervised clocks whose
// reminder day has come and that have not been reminded; a second replica
// skips them (SKIP LOCKED) and the flag set in the same transaction keeps
// the reminder to one.
func (s *Store) ClaimReminders(ctx context.Context, tx pgx.Tx, today time.Time, limit int) ([]*Clock, error) {
	rows, err := tx.Query(ctx, `SELECT `+clockColumns+` FROM clocks
		WHERE stop_time IS NULL AND paused_at IS NULL AND supervised AND reminded_at IS NULL AND remind_on <= $1::date AND due_date >= $1::date
		ORDER BY remind_on LIMIT $2 FOR UPDATE SKIP LOCKED`, Day(today), limit)
	if err != nil {
		return nil, fmt.Errorf("store.ClaimReminders: %w", err)
	}
	return scanClocks(rows)
}

// ClaimOverdue locks up to limit running, supervised clocks past their due
// date that have not been supervised yet (as ClaimReminders).
func (s *Store) ClaimOverdue(ctx context.Context, tx pgx.Tx, today time.Time, limit int) ([]*Clock, error) {
	rows, err := tx.Query(ctx, `SELECT `+clockColumns+` FROM clocks
		WHERE stop_time IS NULL AND paused_at IS NULL AND supervised AND overdue_at IS NULL AND due_date < $1::date
		ORDER BY due_date LIMIT $2 FOR UPDATE SKIP LOCKED`, Day(today), limit)
	if err != nil {
		return nil, fmt.Errorf("store.ClaimOverdue: %w", err)
	}
	return scanClocks(rows)
}

// Remind records the reminder of a claimed clock.
func (s *Store) Remind(ctx context.Context, tx pgx.Tx, c *Clock) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO reminders (case_number, kind, office, due_date) VALUES ($1, $2, $3, $4::date) ON CONFLICT DO NOTHING`,
		c.CaseNumber, c.Kind, c.Office, Day(c.DueDate))
	b.Queue(`UPDATE clocks SET reminded_at = now() WHERE case_number = $1 AND kind = $2`, c.CaseNumber, c.Kind)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store.Remind: %w", err)
	}
	return nil
}

// Supervise records the 督办 of a claimed, overdue clock.
func (s *Store) Supervise(ctx context.Context, tx pgx.Tx, c *Clock, supervisor string) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO supervisions (case_number, kind, county, township, office, supervisor, due_date)
		VALUES ($1, $2, $3, $4, $5, $6, $7::date) ON CONFLICT DO NOTHING`,
		c.CaseNumber, c.Kind, c.County, c.Township, c.Office, supervisor, Day(c.DueDate))
	b.Queue(`UPDATE clocks SET overdue_at = now() WHERE case_number = $1 AND kind = $2`, c.CaseNumber, c.Kind)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store.Supervise: %w", err)
	}
	c.OverdueAt = time.Now()
	return nil
}

// Reminder is one reminder sent to an office.
type Reminder struct {
	CaseNumber string
	Kind       int16
	Office     string
	DueDate    time.Time
	CreateTime time.Time
}

// Reminders returns an office's reminders, newest first.
func (s *Store) Reminders(ctx context.Context, office string, offset int64, limit int) ([]Reminder, error) {
	rows, err := s.Pool.Query(ctx, `SELECT case_number, kind, office, due_date, create_time FROM reminders
		WHERE office = $1 ORDER BY create_time DESC, id DESC OFFSET $2 LIMIT $3`, office, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store.Reminders: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Reminder])
}

// Supervision is one 督办.
type Supervision struct {
	CaseNumber  string
	Kind        int16
	Township    string
	Office      string
	Supervisor  string
	DueDate     time.Time
	RaiseTime   time.Time
	ResolveTime *time.Time
}

// Supervisions returns the supervisions of county (all of them, or those
// where office missed a deadline or supervises it), open ones only unless
// all, oldest first.
func (s *Store) Supervisions(ctx context.Context, county, office string, all bool, offset int64, limit int) ([]Supervision, error) {
	rows, err := s.Pool.Query(ctx, `SELECT case_number, kind, township, office, supervisor, due_date, raise_time, resolve_time
		FROM supervisions WHERE county = $1 AND ($2 = '' OR office = $2 OR supervisor = $2) AND ($3 OR resolve_time IS NULL)
		ORDER BY raise_time, id OFFSET $4 LIMIT $5`, county, office, all, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store.Supervisions: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Supervision])
}

// Involve records that offices take part in a case (creating its row).
func (s *Store) Involve(ctx context.Context, tx pgx.Tx, number, county string, offices ...string) error {
	err := pgdb.Later(ctx, tx, `INSERT INTO case_offices (case_number, county, involved) VALUES ($1, $2, $3)
		ON CONFLICT (case_number) DO UPDATE SET involved = ARRAY(
			SELECT DISTINCT o FROM unnest(case_offices.involved || EXCLUDED.involved) AS o WHERE o <> '')`,
		number, county, offices)
	if err != nil {
		return fmt.Errorf("store.Involve: %w", err)
	}
	return nil
}

// Involved returns the county and the offices involved in a case.
func (s *Store) Involved(ctx context.Context, number string) (string, []string, error) {
	var county string
	var offices []string
	err := s.Pool.QueryRow(ctx, `SELECT county, involved FROM case_offices WHERE case_number = $1`, number).Scan(&county, &offices)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, ErrNotFound
	}
	if err != nil {
		return "", nil, fmt.Errorf("store.Involved: %w", err)
	}
	return county, offices, nil
}

// Visibility is what policy.CanSeeCase needs of a case.
type Visibility struct {
	County   string
	Involved []string
}

// InvolvedIn returns the visibility of each of numbers that is known.
func (s *Store) InvolvedIn(ctx context.Context, numbers []string) (map[string]Visibility, error) {
	rows, err := s.Pool.Query(ctx, `SELECT case_number, county, involved FROM case_offices WHERE case_number = ANY($1)`, numbers)
	if err != nil {
		return nil, fmt.Errorf("store.InvolvedIn: %w", err)
	}
	defer rows.Close()
	out := map[string]Visibility{}
	for rows.Next() {
		var num string
		var v Visibility
		if err := rows.Scan(&num, &v.County, &v.Involved); err != nil {
			return nil, fmt.Errorf("store.InvolvedIn: %w", err)
		}
		out[num] = v
	}
	return out, rows.Err()
}

// LocalRestDays returns the county's local days off by date.
func (s *Store) LocalRestDays(ctx context.Context) (map[string]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT to_char(day, 'YYYY-MM-DD'), name FROM local_rest_days`)
	if err != nil {
		return nil, fmt.Errorf("store.LocalRestDays: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var d, n string
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("store.LocalRestDays: %w", err)
		}
		out[d] = n
	}
	return out, rows.Err()
}

// AddLocalRestDay records a local day off; false when the day is already one.
func (s *Store) AddLocalRestDay(ctx context.Context, tx pgx.Tx, day time.Time, name, by string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO local_rest_days (day, name, added_by) VALUES ($1::date, $2, $3) ON CONFLICT DO NOTHING`, Day(day), name, by)
	if err != nil {
		return false, fmt.Errorf("store.AddLocalRestDay: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// HolidayNotices returns the texts of the holiday notices loaded at run time, by
// year.
func (s *Store) HolidayNotices(ctx context.Context) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT text FROM calendar_notices ORDER BY year`)
	if err != nil {
		return nil, fmt.Errorf("store.HolidayNotices: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// AddHolidayNotice stores a notice; false when its year is already loaded.
func (s *Store) AddHolidayNotice(ctx context.Context, tx pgx.Tx, year int, text, source, by string) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO calendar_notices (year, text, source, imported_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		year, text, source, by)
	if err != nil {
		return false, fmt.Errorf("store.AddHolidayNotice: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// JobsDue counts the work the jobs have not done yet as of today: reminders,
// supervisions and notices that are due.
func (s *Store) JobsDue(ctx context.Context, today, now time.Time) (map[string]float64, error) {
	var rem, sup, not int64
	err := s.Pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM clocks WHERE stop_time IS NULL AND paused_at IS NULL AND supervised AND reminded_at IS NULL AND remind_on <= $1::date AND due_date >= $1::date),
		(SELECT count(*) FROM clocks WHERE stop_time IS NULL AND paused_at IS NULL AND supervised AND overdue_at IS NULL AND due_date < $1::date),
		(SELECT count(*) FROM notices WHERE send_time IS NULL AND due_time <= $2)`, Day(today), now).Scan(&rem, &sup, &not)
	if err != nil {
		return nil, fmt.Errorf("store.JobsDue: %w", err)
	}
	return map[string]float64{"reminder": float64(rem), "supervision": float64(sup), "notice": float64(not)}, nil
}

// OpenSupervisions counts the 督办 not yet resolved.
func (s *Store) OpenSupervisions(ctx context.Context) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM supervisions WHERE resolve_time IS NULL`).Scan(&n)
	return n, err
}
