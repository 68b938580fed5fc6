// Package store is intake's SQL: case numbers, registrations, and the
// projection of assignment's moves (state, holder, history).
package store

import (
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pagination"
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
	Accused        string // for an accusation: the accused office id, if any
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

// seal is the at-rest form of a petitioner of case number, ordinal n
// (1-based): every field bound to its case, ordinal and name.
func (s *Store) seal(number string, n int, p Petitioner) []any {
	return []any{number, n, p.Kind, p.Representative, s.Keys.CurrentID(),
		s.Keys.Seal(p.Name, sealContext(number, n, "name")), s.Keys.Seal(p.IDNumber, sealContext(number, n, "id_number")),
		s.Keys.Seal(p.Phone, sealContext(number, n, "phone")),
		s.Keys.Hash("id_number", p.IDNumber), s.Keys.Hash("phone", p.Phone)}
}

// sealContext binds a sealed field to its case, petitioner and field name,
// so a sealed value cannot be moved to another row or column.
func sealContext(number string, ordinal int, field string) string {
	return fmt.Sprintf("%s/%d/%s", number, ordinal, field)
}

// petitioners loads and opens the petitioners of the given cases.
func (s *Store) petitioners(ctx context.Context, numbers []string) (map[string][]Petitioner, error) {
	rows, err := s.Pool.Query(ctx, petitionersSQL, numbers)
	if err != nil {
		return nil, fmt.Errorf("store.petitioners: %w", err)
	}
	return s.openPetitioners(rows)
}

const petitionersSQL = `SELECT case_number, ordinal, kind, representative, key_id, name_enc, id_number_enc, phone_enc
	FROM petitioners WHERE case_number = ANY ($1) ORDER BY case_number, ordinal`

// openPetitioners reads petitionersSQL's rows, opening the sealed fields.
func (s *Store) openPetitioners(rows pgx.Rows) (map[string][]Petitioner, error) {
	defer rows.Close()
	out := map[string][]Petitioner{}
	for rows.Next() {
		var num, keyID string
		var n int
		var p Petitioner
		var name, id, phone []byte
		if err := rows.Scan(&num, &n, &p.Kind, &p.Representative, &keyID, &name, &id, &phone); err != nil {
			return nil, fmt.Errorf("store.petitioners: %w", err)
		}
		for _, f := range []struct {
			dst   *string
			val   []byte
			field string
		}{{&p.Name, name, "name"}, {&p.IDNumber, id, "id_number"}, {&p.Phone, phone, "phone"}} {
			var err error
			if *f.dst, err = s.Keys.Open(f.val, keyID, sealContext(num, n, f.field)); err != nil {
				return nil, fmt.Errorf("case %s petitioner %d %s: %w", num, n, f.field, err)
			}
		}
		out[num] = append(out[num], p)
	}
	return out, rows.Err()
}

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

// QueryCode is the query code printed on a case's receipt (受理凭证, 查询码):
// eight characters, 0-9 and A-F, the keyed hash of its number under the
// identity hash key. Derived, never stored: the registering office can
// reprint a receipt, a retried registration gets the same code, and the
// database alone gives no code away. (32 bits, against the lookup's
// lockout of 5 wrong codes per case in 15 minutes.)
func (s *Store) QueryCode(number string) string {
	return strings.ToUpper(hex.EncodeToString(s.Keys.Hash("query_code", number)[:4]))
}

// QueryCodeMatches reports, in constant time, whether code is c's.
func (s *Store) QueryCodeMatches(c *Case, code string) bool {
	if c.QueryCodeHash != nil {
		return hmac.Equal(c.QueryCodeHash, s.legacyHash(c.Number, code))
	}
	return subtle.ConstantTimeCompare([]byte(s.QueryCode(c.Number)), []byte(code)) == 1
}

func (s *Store) legacyHash(number, code string) []byte {
	return s.Keys.Hash("legacy_query_code", number+"\x00"+code)
}

// HashLegacyQueryCodes replaces the query codes stored in clear before
// migration 000011 by their keyed hashes, a thousand cases a transaction;
// once done it finds nothing and costs one indexless scan of a column
// that is NULL everywhere.
func (s *Store) HashLegacyQueryCodes(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT case_number, query_code FROM cases WHERE query_code IS NOT NULL LIMIT 1000 FOR UPDATE SKIP LOCKED`)
			if err != nil {
				return err
			}
			type legacy struct{ number, code string }
			found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (legacy, error) {
				var l legacy
				return l, r.Scan(&l.number, &l.code)
			})
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			for _, l := range found {
				b.Queue(`UPDATE cases SET query_code_hash = $2, query_code = NULL WHERE case_number = $1`, l.number, s.legacyHash(l.number, l.code))
			}
			n = len(found)
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return total, fmt.Errorf("store.HashLegacyQueryCodes: %w", err)
		}
		if total += n; n == 0 {
			return total, nil
		}
	}
}

func (s *Store) insertPetitioners(ctx context.Context, tx pgx.Tx, c *Case) error {
	const qp = `INSERT INTO petitioners (case_number, ordinal, kind, representative, key_id,
		name_enc, id_number_enc, phone_enc, id_number_hash, phone_hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`
	batch := &pgx.Batch{}
	for i, p := range c.Petitioners {
		batch.Queue(qp, s.seal(c.Number, i+1, p)...)
	}
	if err := pgdb.LaterBatch(ctx, tx, batch); err != nil {
		return fmt.Errorf("store.Insert petitioners: %w", err)
	}
	return nil
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

// Subjects returns the subjects of the given cases.
func (s *Store) Subjects(ctx context.Context, numbers []string) (map[string]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT case_number, subject FROM cases WHERE case_number = ANY ($1)`, numbers)
	if err != nil {
		return nil, fmt.Errorf("store.Subjects: %w", err)
	}
	out := map[string]string{}
	var num, subject string
	_, err = pgx.ForEachRow(rows, []any{&num, &subject}, func() error { out[num] = subject; return nil })
	if err != nil {
		return nil, fmt.Errorf("store.Subjects: %w", err)
	}
	return out, nil
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

// Order is the order of a list.
type Order int

// Orders of a list.
const (
	NewestRegistered Order = iota // create_time desc
	NewestReceived                // receive_time desc
	OldestReceived                // receive_time asc
)

// ListFilter selects the cases a caller may see (every case of County when
// AllOfCounty, otherwise the cases Office registered or held) and narrows
// them; zero fields do not filter.
type ListFilter struct {
	County      string
	AllOfCounty bool
	Office      string

	State           int16
	Township        string
	Channel         int16
	Class           int16
	From, To        time.Time
	SubjectContains string
	Order           Order
	// After is the keyset of the previous page's last row.
	After *pagination.Keyset
	// WithPetitioners loads (and opens) the petitioners.
	WithPetitioners bool
}

// KeysetOf returns c's position in order o.
func KeysetOf(c *Case, o Order) pagination.Keyset {
	if o == NewestRegistered {
		return pagination.Keyset{Time: c.CreateTime, Key: c.Number}
	}
	return pagination.Keyset{Time: c.ReceiveTime, Key: c.Number}
}

// List returns up to limit cases in f's order, without history (and
// without content and petitioners unless f.WithPetitioners: the FULL view).
// Only the filters in use become SQL, each with a bind parameter, so the
// planner walks the order's index and stops at limit.
func (s *Store) List(ctx context.Context, f ListFilter, limit int) ([]*Case, error) {
	orders := map[Order]struct{ col, cmp, dir string }{
		NewestRegistered: {"create_time", "<", "DESC"},
		NewestReceived:   {"receive_time", "<", "DESC"},
		OldestReceived:   {"receive_time", ">", "ASC"},
	}
	o := orders[f.Order]
	args := []any{f.County}
	where := []string{"county = $1"}
	add := func(cond string, v ...any) {
		for _, a := range v {
			args = append(args, a)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if !f.AllOfCounty {
		add("involved_offices @> ARRAY[?]::text[]", f.Office)
	}
	if f.State != 0 {
		add("state = ?", f.State)
	}
	if f.Township != "" {
		add("township = ?", f.Township)
	}
	if f.Channel != 0 {
		add("channel = ?", f.Channel)
	}
	if f.Class != 0 {
		add("case_class = ?", f.Class)
	}
	if !f.From.IsZero() {
		add("receive_time >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("receive_time < ?", f.To)
	}
	if f.SubjectContains != "" {
		add("strpos(subject, ?) > 0", f.SubjectContains)
	}
	if f.After != nil {
		add("("+o.col+", case_number) "+o.cmp+" (?, ?)", f.After.Time, f.After.Key)
	}
	columns := caseColumns
	if !f.WithPetitioners {
		columns = strings.Replace(columns, "subject, content,", "subject, ''::text AS content,", 1)
	}
	args = append(args, limit)
	q := `SELECT ` + columns + ` FROM cases WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + o.col + ` ` + o.dir + `, case_number ` + o.dir + ` LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store.List: %w", err)
	}
	defer rows.Close()
	var out []*Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, fmt.Errorf("store.List: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store.List: %w", err)
	}
	if !f.WithPetitioners || len(out) == 0 {
		return out, nil
	}
	numbers := make([]string, len(out))
	for i, c := range out {
		numbers[i] = c.Number
	}
	ps, err := s.petitioners(ctx, numbers)
	if err != nil {
		return nil, err
	}
	for _, c := range out {
		c.Petitioners = ps[c.Number]
	}
	return out, nil
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

// Anonymise removes the identity of up to limit cases that ended before
// cutoff and are not anonymised yet: the petitioners' sealed names, ID and
// phone numbers and their lookup hashes, and the free-text content (which
// may name people). It claims the cases with SKIP LOCKED, so replicas
// share the work, and returns the case numbers it anonymised.
func (s *Store) Anonymise(ctx context.Context, tx pgx.Tx, cutoff time.Time, limit int) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT case_number FROM cases WHERE end_time < $1 AND anonymised_time IS NULL
		ORDER BY end_time LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("store.Anonymise: %w", err)
	}
	numbers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(numbers) == 0 {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE petitioners SET name_enc = NULL, id_number_enc = NULL, phone_enc = NULL, id_number_hash = NULL, phone_hash = NULL
		WHERE case_number = ANY ($1)`, numbers)
	b.Queue(`UPDATE cases SET content = '（保存期满，内容已删除）', anonymised_time = now() WHERE case_number = ANY ($1)`, numbers)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store.Anonymise: %w", err)
	}
	return numbers, nil
}
