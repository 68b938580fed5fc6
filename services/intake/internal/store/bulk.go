package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ExistingExternal returns which of the (source system, external id) pairs
// are registered already.
func (s *Store) ExistingExternal(ctx context.Context, tx pgx.Tx, pairs [][2]string) (map[[2]string]bool, error) {
	out := map[[2]string]bool{}
	if len(pairs) == 0 {
		return out, nil
	}
	src, ext := make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		src[i], ext[i] = p[0], p[1]
	}
	rows, err := tx.Query(ctx, `SELECT c.source_system, c.external_id FROM cases c
		JOIN unnest($1::text[], $2::text[]) AS p(s, e) ON c.source_system = p.s AND c.external_id = p.e`, src, ext)
	if err != nil {
		return nil, fmt.Errorf("store.ExistingExternal: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return nil, fmt.Errorf("store.ExistingExternal: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

// NextNumbers draws n case numbers at once (see NextNumber), in order.
func (s *Store) NextNumbers(ctx context.Context, tx pgx.Tx, county string, year, n int) ([]string, error) {
	name, err := sequenceName(county, year)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT nextval($1::regclass) FROM generate_series(1, $2)`, name, n)
	if err != nil {
		return nil, fmt.Errorf("store.NextNumbers: %w", err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store.NextNumbers: %w", err)
	}
	out := make([]string, len(seqs))
	for i, v := range seqs {
		out[i] = caseNumber(county, year, v)
	}
	return out, nil
}

// RepeatsPerHash bounds the repeat look-up: for each ID number and phone it
// reads the petitioner's RepeatsPerHash most recent cases in the window,
// whatever their history (a long-term petitioner's thousands of cases, a
// hotline number given for many callers), so that a registration's cost
// does not grow with it. Linking picks the earliest matching case among
// those (docs/lifecycle.md, "Repeats").
const RepeatsPerHash = 8

// repeatCandidatesSQL is the repeat look-up: per hash an index scan of
// petitioners (hash, receive_time DESC) from the window's newest, at most
// RepeatsPerHash rows. tools/benchintake/ceiling.go runs a copy of it, with pgbench's
// variables for the parameters: change both.
const repeatCandidatesSQL = `WITH p AS MATERIALIZED (
		SELECT m.* FROM unnest($2::bytea[]) AS h(hash) CROSS JOIN LATERAL (
			SELECT case_number, id_number_hash, phone_hash FROM petitioners
			WHERE id_number_hash = h.hash AND receive_time >= $4 ORDER BY receive_time DESC LIMIT $5) m
		UNION
		SELECT m.* FROM unnest($3::bytea[]) AS h(hash) CROSS JOIN LATERAL (
			SELECT case_number, id_number_hash, phone_hash FROM petitioners
			WHERE phone_hash = h.hash AND receive_time >= $4 ORDER BY receive_time DESC LIMIT $5) m)
	SELECT c.case_number, coalesce(c.repeat_of, c.case_number), c.township, c.topic, c.case_class,
		c.receive_time, coalesce(p.id_number_hash, ''), coalesce(p.phone_hash, ''), c.registered_by, c.involved_offices,
		coalesce(r.involved_offices, c.involved_offices), coalesce(r.state, c.state)
	FROM p CROSS JOIN LATERAL (SELECT * FROM cases WHERE case_number = p.case_number
		AND county = $1 AND receive_time >= $4 LIMIT 1) c
	LEFT JOIN LATERAL (SELECT involved_offices, state FROM cases WHERE case_number = c.repeat_of) r ON true`

// Candidate is one petitioner of an earlier case that may make a new case a
// repeat.
type Candidate struct {
	Number, Root, Township, Topic string
	Class                         int16
	ReceiveTime                   time.Time
	IDHash, PhoneHash             []byte
	// RegisteredBy and Involved say who may see the earlier case and its
	// identity (FindRepeats answers only with what the caller may).
	RegisteredBy string
	Involved     []string
	// RootOf is the first case of its matter, Root, as the look-up read it:
	// a new case that repeats it shows whether its caller may see it
	// without another round trip.
	RootOf Root
}

// RepeatCandidates returns the petitioners of county's cases received since
// that share one of the hashes, with their case's matter (the server's
// repeatLookup picks among them). It must start from the hash indexes, and
// the materialised CTE makes it so whatever the statistics say: with stale
// ones (a fresh or freshly imported county; autovacuum analyses a minute
// later at best) the planner started from the window's cases instead and
// probed each one's petitioners, a cost growing with the cases. The
// lateral subquery (LIMIT 1 keeps it from being flattened) reads each
// match's case by its key rather than hashing the window's cases.
func (s *Store) RepeatCandidates(ctx context.Context, tx pgx.Tx, county string, idHashes, phoneHashes [][]byte, since time.Time) ([]Candidate, error) {
	var out []Candidate
	b := &pgx.Batch{}
	QueueRepeatCandidates(b, county, idHashes, phoneHashes, since, &out)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store.RepeatCandidates: %w", err)
	}
	return out, nil
}

// QueueRepeatCandidates queues RepeatCandidates' look-up on b (to share a
// round trip with other statements); into receives the candidates when b
// is sent.
func QueueRepeatCandidates(b *pgx.Batch, county string, idHashes, phoneHashes [][]byte, since time.Time, into *[]Candidate) {
	b.Queue(repeatCandidatesSQL, county, idHashes, phoneHashes, since, RepeatsPerHash).Query(func(rows pgx.Rows) error {
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Candidate, error) {
			var c Candidate
			err := r.Scan(&c.Number, &c.Root, &c.Township, &c.Topic, &c.Class, &c.ReceiveTime, &c.IDHash, &c.PhoneHash, &c.RegisteredBy, &c.Involved,
				&c.RootOf.Involved, &c.RootOf.State)
			return c, err
		})
		if err != nil {
			return fmt.Errorf("store.RepeatCandidates: %w", err)
		}
		*into = out
		return nil
	})
}

// Analyze refreshes the planner's statistics of the tables an import grows
// (cases and petitioners). Every backend's cached plans of statements on
// them are then made again: a plan made while a table was a few pages
// (a sequential scan) stays cached until the table is next analyzed, and
// autovacuum, busy under a bulk load, can be minutes late. PostgreSQL's
// advice after a bulk load is the same.
func (s *Store) Analyze(ctx context.Context) error {
	if _, err := s.Pool.Exec(ctx, `ANALYZE cases, petitioners`); err != nil {
		return fmt.Errorf("store.Analyze: %w", err)
	}
	return nil
}

// CopyCases writes new cases and their sealed petitioners with COPY (a bulk
// import's); each case's CreateTime must be set.
func (s *Store) CopyCases(ctx context.Context, tx pgx.Tx, cases []*Case) error {
	caseRows := make([][]any, len(cases))
	var petitionerRows [][]any
	for i, c := range cases {
		caseRows[i] = []any{c.Number, c.County, c.Township, c.Channel, c.Class, c.Topic, c.Subject, c.Content,
			c.Anonymous, c.HeadCount, c.RegisteredBy, c.RegisteredRole, c.ReceiveTime, c.CreateTime, c.CreateTime,
			c.State, c.Holder, c.Involved, nullIfEmpty(c.SourceSystem), nullIfEmpty(c.ExternalID), nullIfEmpty(c.RepeatOf), nullIfEmpty(c.Accused)}
		for j, p := range c.Petitioners {
			petitionerRows = append(petitionerRows, s.seal(c, j+1, p))
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cases"}, []string{"case_number", "county", "township", "channel", "case_class",
		"topic", "subject", "content", "anonymous", "head_count", "registered_by", "registered_role", "receive_time",
		"create_time", "update_time", "state", "holder_office", "involved_offices", "source_system", "external_id", "repeat_of", "accused_office"},
		pgx.CopyFromRows(caseRows)); err != nil {
		return fmt.Errorf("store.CopyCases: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"petitioners"}, []string{"case_number", "ordinal", "kind", "representative",
		"key_id", "name_enc", "id_number_enc", "phone_enc", "id_number_hash", "phone_hash", "receive_time"}, pgx.CopyFromRows(petitionerRows)); err != nil {
		return fmt.Errorf("store.CopyCases petitioners: %w", err)
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
