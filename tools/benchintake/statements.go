package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/devkit/stack"
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
	if err != nil {
		return err
	}
	updatesBefore, err = stack.TableUpdates(ctx, conn)
	return err
}

// updatesBefore are the tables' update counts when the run started.
var updatesBefore map[string]stack.Updates

// writeUpdates writes the tables updated since updatesBefore: rows
// updated per operation (n) and the share of them that were HOT.
func writeUpdates(ctx context.Context, conn *pgx.Conn, b *strings.Builder, n int) error {
	time.Sleep(stack.StatsDelay)
	after, err := stack.TableUpdates(ctx, conn)
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(after))
	fmt.Fprintf(b, "\n| table | updated rows per operation | HOT |\n|---|---|---|\n")
	for _, name := range names {
		all, hot := after[name].All-updatesBefore[name].All, after[name].HOT-updatesBefore[name].HOT
		if all > 0 {
			fmt.Fprintf(b, "| %s | %.2f | %.0f %% |\n", name, float64(all)/float64(n), 100*float64(hot)/float64(all))
		}
	}
	return nil
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
	if err := writeUpdates(ctx, conn, b, n); err != nil {
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
