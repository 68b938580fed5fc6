package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Roster is a reception roster.
type Roster struct {
	ID                         int64
	Title, Leader, LeaderTitle string
	Office, Place              string
	Monthly                    bool
	Weekday, WeekOfMonth       int16
	StartDate, EndDate         time.Time
	Slots                      int32
}

const rosterColumns = `id, title, leader, leader_title, office, place, monthly, weekday, week_of_month, start_date, end_date, slots`

// CreateRoster stores a roster and sets its ID.
func (s *Store) CreateRoster(ctx context.Context, tx pgx.Tx, r *Roster) error {
	err := tx.QueryRow(ctx, `INSERT INTO reception_rosters (title, leader, leader_title, office, place, monthly, weekday,
		week_of_month, start_date, end_date, slots) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::date,$10::date,$11) RETURNING id`,
		r.Title, r.Leader, r.LeaderTitle, r.Office, r.Place, r.Monthly, r.Weekday, r.WeekOfMonth, Day(r.StartDate), Day(r.EndDate), r.Slots).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("store.CreateRoster: %w", err)
	}
	return nil
}

// Rosters returns the rosters that overlap [from, to], of one office or all.
func (s *Store) Rosters(ctx context.Context, office string, from, to time.Time) ([]*Roster, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+rosterColumns+` FROM reception_rosters
		WHERE ($1 = '' OR office = $1) AND start_date <= $3::date AND end_date >= $2::date ORDER BY id`, office, Day(from), Day(to))
	if err != nil {
		return nil, fmt.Errorf("store.Rosters: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[Roster])
}

// Roster returns one roster.
func (s *Store) Roster(ctx context.Context, id int64) (*Roster, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+rosterColumns+` FROM reception_rosters WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("store.Roster: %w", err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByPos[Roster])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return r, err
}

// Application is an application for a reception.
type Application struct {
	ID            int64
	RosterID      int64
	ScheduledDate time.Time
	HeldDate      time.Time
	CaseNumber    string
	Office        string
	Status        int16
	Decision      string
	MeetingRecord string
	CreateTime    time.Time
}

const applicationColumns = `id, roster_id, scheduled_date, held_date, case_number, office, status, decision, meeting_record, create_time`

// CreateApplication stores an application and sets its ID.
func (s *Store) CreateApplication(ctx context.Context, tx pgx.Tx, a *Application) error {
	err := tx.QueryRow(ctx, `INSERT INTO reception_applications (roster_id, scheduled_date, held_date, case_number, office, status)
		VALUES ($1, $2::date, $3::date, $4, $5, $6) RETURNING id, create_time`,
		a.RosterID, Day(a.ScheduledDate), Day(a.HeldDate), a.CaseNumber, a.Office, a.Status).Scan(&a.ID, &a.CreateTime)
	if err != nil {
		return fmt.Errorf("store.CreateApplication: %w", err)
	}
	return nil
}

// LockApplication returns an application locked FOR UPDATE, with the
// number of applications booked (statuses in booked) for its reception.
func (s *Store) LockApplication(ctx context.Context, tx pgx.Tx, id int64, booked []int16) (*Application, int, error) {
	rows, err := tx.Query(ctx, `SELECT `+applicationColumns+` FROM reception_applications WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return nil, 0, fmt.Errorf("store.LockApplication: %w", err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByPos[Application])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store.LockApplication: %w", err)
	}
	// Serialise bookings of one reception on its roster row.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM reception_rosters WHERE id = $1 FOR UPDATE`, a.RosterID); err != nil {
		return nil, 0, fmt.Errorf("store.LockApplication: %w", err)
	}
	var n int
	err = tx.QueryRow(ctx, `SELECT count(*) FROM reception_applications WHERE roster_id = $1 AND scheduled_date = $2::date AND status = ANY ($3)`,
		a.RosterID, Day(a.ScheduledDate), booked).Scan(&n)
	if err != nil {
		return nil, 0, fmt.Errorf("store.LockApplication: %w", err)
	}
	return a, n, nil
}

// SaveApplication writes an application's status, decision and record.
func (s *Store) SaveApplication(ctx context.Context, tx pgx.Tx, a *Application) error {
	_, err := tx.Exec(ctx, `UPDATE reception_applications SET status = $2, decision = $3, meeting_record = $4, update_time = now() WHERE id = $1`,
		a.ID, a.Status, a.Decision, a.MeetingRecord)
	if err != nil {
		return fmt.Errorf("store.SaveApplication: %w", err)
	}
	return nil
}

// Booked counts the applications booked for each reception of a roster
// (statuses in booked), by scheduled date.
func (s *Store) Booked(ctx context.Context, rosterID int64, booked []int16) (map[string]int32, error) {
	rows, err := s.Pool.Query(ctx, `SELECT to_char(scheduled_date, 'YYYY-MM-DD'), count(*) FROM reception_applications
		WHERE roster_id = $1 AND status = ANY ($2) GROUP BY scheduled_date`, rosterID, booked)
	if err != nil {
		return nil, fmt.Errorf("store.Booked: %w", err)
	}
	defer rows.Close()
	out := map[string]int32{}
	for rows.Next() {
		var d string
		var n int32
		if err := rows.Scan(&d, &n); err != nil {
			return nil, err
		}
		out[d] = n
	}
	return out, rows.Err()
}

// Notice is a written notice.
type Notice struct {
	ID            int64
	Kind          int16
	ApplicationID int64
	CaseNumber    string
	Office        string
	Text          string
	DueTime       time.Time
	SendTime      *time.Time
	Channel       string
	// The application's reception: its roster and scheduled date.
	RosterID      int64
	ScheduledDate time.Time
}

const noticeColumns = `n.id, n.kind, n.application_id, n.case_number, n.office, n.text, n.due_time, n.send_time, n.channel,
	a.roster_id, a.scheduled_date`

// AddNotice schedules a notice (once per application and kind).
func (s *Store) AddNotice(ctx context.Context, tx pgx.Tx, n *Notice) error {
	_, err := tx.Exec(ctx, `INSERT INTO notices (kind, application_id, case_number, office, text, due_time)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (application_id, kind) DO NOTHING`,
		n.Kind, n.ApplicationID, n.CaseNumber, n.Office, n.Text, n.DueTime)
	if err != nil {
		return fmt.Errorf("store.AddNotice: %w", err)
	}
	return nil
}

// ClaimNotices locks up to limit notices due by now and not sent (SKIP
// LOCKED: replicas never send one twice).
func (s *Store) ClaimNotices(ctx context.Context, tx pgx.Tx, now time.Time, limit int) ([]*Notice, error) {
	rows, err := tx.Query(ctx, `SELECT `+noticeColumns+` FROM notices n JOIN reception_applications a ON a.id = n.application_id
		WHERE n.send_time IS NULL AND n.due_time <= $1 ORDER BY n.due_time LIMIT $2 FOR UPDATE OF n SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("store.ClaimNotices: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[Notice])
}

// MarkSent records that a notice went out through channel.
func (s *Store) MarkSent(ctx context.Context, tx pgx.Tx, id int64, channel string) error {
	if _, err := tx.Exec(ctx, `UPDATE notices SET send_time = now(), channel = $2 WHERE id = $1`, id, channel); err != nil {
		return fmt.Errorf("store.MarkSent: %w", err)
	}
	return nil
}

// Notices returns the notices of an office's receptions, by due time.
func (s *Store) Notices(ctx context.Context, office string) ([]*Notice, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+noticeColumns+` FROM notices n JOIN reception_applications a ON a.id = n.application_id
		WHERE n.office = $1 ORDER BY n.due_time, n.id LIMIT 500`, office)
	if err != nil {
		return nil, fmt.Errorf("store.Notices: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[Notice])
}

// Appointment is a leader's appointment (约访).
type Appointment struct {
	ID          int64
	Leader      string
	LeaderTitle string
	CaseNumber  string
	StartTime   time.Time
	Place       string
	Office      string
}

const appointmentColumns = `id, leader, leader_title, case_number, start_time, place, office`

// CreateAppointment stores an appointment and sets its ID.
func (s *Store) CreateAppointment(ctx context.Context, tx pgx.Tx, a *Appointment) error {
	err := tx.QueryRow(ctx, `INSERT INTO appointments (leader, leader_title, case_number, start_time, place, office)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, a.Leader, a.LeaderTitle, a.CaseNumber, a.StartTime, a.Place, a.Office).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("store.CreateAppointment: %w", err)
	}
	return nil
}

// Appointments returns appointments in [from, to), of one office or leader
// or all, by time.
func (s *Store) Appointments(ctx context.Context, from, to time.Time, office, leader string) ([]*Appointment, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+appointmentColumns+` FROM appointments
		WHERE start_time >= $1 AND start_time < $2 AND ($3 = '' OR office = $3) AND ($4 = '' OR leader = $4)
		ORDER BY start_time, id LIMIT 1000`, from, to, office, leader)
	if err != nil {
		return nil, fmt.Errorf("store.Appointments: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[Appointment])
}

// Leaders returns every leader named on a roster or an appointment.
func (s *Store) Leaders(ctx context.Context) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT leader FROM reception_rosters UNION SELECT leader FROM appointments ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("store.Leaders: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
