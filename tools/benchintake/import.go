package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
)

func caseNumbers(ctx context.Context, url string, n int) ([]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	// Numbers the services registered (pgbench's rows have 9-digit sequences).
	rows, err := conn.Query(ctx, `SELECT case_number FROM intake.cases WHERE length(case_number) = 18 LIMIT $1`, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// likeTable is the SQL that creates table dst, when missing, as src is:
// its columns, defaults, indexes and storage parameters (a fillfactor
// changes how many pages a write touches; LIKE does not copy them).
func likeTable(dst, src string) string {
	return ` CREATE TABLE IF NOT EXISTS ` + dst + ` (LIKE ` + src + ` INCLUDING ALL);
		DO $$ DECLARE o text[] := (SELECT reloptions FROM pg_class WHERE oid = '` + src + `'::regclass); BEGIN
			IF o IS NOT NULL THEN EXECUTE format('ALTER TABLE ` + dst + ` SET (%s)', array_to_string(o, ', ')); END IF;
		END $$;`
}

// importVsCopy times ImportCases of rows realistic cases against COPY of
// the same rows into a copy of intake.cases with its indexes.
func importVsCopy(ctx context.Context, url string, intake intakev1.IntakeServiceClient, rows int) (copyRate, importRate float64, err error) {
	cases := make([]*intakev1.Case, rows)
	for i := range cases {
		cases[i] = realisticCase()
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, likeTable("intake.bench_copy", "intake.cases")); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	src := pgx.CopyFromSlice(rows, func(i int) ([]any, error) {
		c := cases[i]
		return []any{fmt.Sprintf("330421-2099-%06d", i), "330421", c.GetTownship(), int16(c.GetChannel()), int16(c.GetCaseClass()),
			c.GetTopic(), c.GetSubject(), c.GetContent(), "330421102", "clerk", time.Now(), "330421102", []string{"330421102"}}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"intake", "bench_copy"}, []string{"case_number", "county", "township", "channel", "case_class",
		"topic", "subject", "content", "registered_by", "registered_role", "receive_time", "holder_office", "involved_offices"}, src); err != nil {
		return 0, 0, err
	}
	copyRate = float64(rows) / time.Since(start).Seconds()

	importRate, _, err = importCases(ctx, intake, cases)
	return copyRate, importRate, err
}

// importCases imports cases in one ImportCases stream and returns the rows
// registered per second.
func importCases(ctx context.Context, intake intakev1.IntakeServiceClient, cases []*intakev1.Case) (rate float64, numbers []string, err error) {
	start := time.Now()
	stream, err := intake.ImportCases(ctx)
	if err != nil {
		return 0, nil, err
	}
	for _, c := range cases {
		if err := stream.Send(&intakev1.ImportCasesRequest{Case: c}); err != nil {
			return 0, nil, err
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return 0, nil, err
	}
	rate = float64(len(cases)) / time.Since(start).Seconds()
	if int(resp.GetRegistered()) != len(cases) {
		b, _ := json.Marshal(resp.GetResults()[:min(3, len(resp.GetResults()))])
		return 0, nil, fmt.Errorf("import registered %d of %d rows: %s", resp.GetRegistered(), len(cases), b)
	}
	for _, r := range resp.GetResults() {
		numbers = append(numbers, strings.TrimPrefix(r.GetName(), "cases/"))
	}
	return rate, numbers, nil
}

// copyWhatImportWrote times raw COPY, in one transaction, of every row the
// import of numbers wrote (its cases, their petitioners, their events and
// their audit entries, binary, as stored) into copies of those tables with
// their indexes: the import's own ceiling, as pgbench running the
// registration's transaction is a registration's.
func copyWhatImportWrote(ctx context.Context, url string, numbers []string) (float64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	tables := []string{"cases", "petitioners", "outbox", "audit_log"}
	data := make([]bytes.Buffer, len(tables))
	for i, t := range tables {
		if _, err := conn.Exec(ctx, likeTable("intake.bench_all_"+t, "intake."+t)); err != nil {
			return 0, err
		}
		list := "ARRAY['" + strings.Join(numbers, "','") + "']" // case numbers: digits and dashes
		if _, err := conn.PgConn().CopyTo(ctx, &data[i], fmt.Sprintf(`COPY (SELECT * FROM intake.%s WHERE case_number = ANY (%s)) TO STDOUT (FORMAT binary)`, t, list)); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	for i, t := range tables {
		if _, err := conn.PgConn().CopyFrom(ctx, &data[i], fmt.Sprintf(`COPY intake.bench_all_%s FROM STDIN (FORMAT binary)`, t)); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return float64(len(numbers)) / time.Since(start).Seconds(), nil
}
