package store

import (
	"context"
	"fmt"

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
