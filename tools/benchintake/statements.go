package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// statementsTo, with -statements FILE, receives after each run the
// statements that took most of PostgreSQL's execution time during it
// (pg_stat_statements, preloaded in the benchmark's cluster for the
// purpose): the SQL side of the CPU table.
var statementsTo string

// statementSettings are the cluster settings -statements needs.
func statementSettings() []string {
	if statementsTo == "" {
		return nil
	}
	return []string{"shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all"}
}

// resetStatements creates the extension when missing and empties its
// counts.
func resetStatements(ctx context.Context, conn *pgx.Conn) error {
	if statementsTo == "" {
		return nil
	}
	_, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()`)
	return err
}

// appendStatements appends the top statements since the last reset to
// statementsTo under label, with their time per operation (n operations).
func appendStatements(ctx context.Context, conn *pgx.Conn, label string, n int) error {
	if statementsTo == "" || n == 0 {
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, rows, shared_blks_hit + shared_blks_read, query
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25`)
	if err != nil {
		return err
	}
	b := &strings.Builder{}
	fmt.Fprintf(b, "## %s (%d operations)\n\n| ms per operation | calls per operation | rows per call | buffers per call | statement |\n|---|---|---|---|---|\n", label, n)
	var calls, nrows, bufs int64
	var total float64
	var query string
	_, err = pgx.ForEachRow(rows, []any{&calls, &total, &nrows, &bufs, &query}, func() error {
		q := strings.Join(strings.Fields(query), " ")
		if len(q) > 160 {
			q = q[:160] + "…"
		}
		fmt.Fprintf(b, "| %.3f | %.2f | %.1f | %.1f | `%s` |\n", total/float64(n), float64(calls)/float64(n),
			float64(nrows)/float64(max(calls, 1)), float64(bufs)/float64(max(calls, 1)), strings.ReplaceAll(q, "|", `\|`))
		return nil
	})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(statementsTo, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
