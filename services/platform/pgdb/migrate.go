package pgdb

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed platform/*.sql
var platformFS embed.FS

// Migrations is a service's set of migration files (`NNNNNN_name.up.sql`),
// applied in name order after the platform tables (outbox, idempotency keys,
// feed cursors) that every service schema holds.
type Migrations struct {
	FS  fs.FS
	Dir string
}

// Migrate creates schema if needed and applies every migration not yet
// recorded in schema.schema_migrations, each in its own transaction, under
// an advisory lock so that replicas starting together apply each file once.
//
// Hand-written rather than golang-migrate or goose: every schema takes two
// sets, the platform's tables and the service's own, recorded by name in
// one table that running installations already hold, and migrations only
// go forward; those libraries keep one version number per source and table,
// so adopting one would mean two tables per schema and a conversion of every
// installation's records, for features (down migrations, a CLI) nobody runs.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, m Migrations) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	defer conn.Release()
	lockKey := "tongban.migrate." + schema
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", lockKey); err != nil {
		return fmt.Errorf("migrate %s: lock: %w", schema, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", lockKey) //nolint:errcheck

	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident+";"+
		"CREATE TABLE IF NOT EXISTS "+ident+".schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return fmt.Errorf("migrate %s: bootstrap: %w", schema, err)
	}
	files, err := migrationFiles(Migrations{FS: platformFS, Dir: "platform"}, "platform/")
	if err != nil {
		return err
	}
	own, err := migrationFiles(m, "")
	if err != nil {
		return err
	}
	for _, f := range append(files, own...) {
		if err := applyOne(ctx, conn.Conn(), ident, f); err != nil {
			return fmt.Errorf("migrate %s: %s: %w", schema, f.name, err)
		}
	}
	return nil
}

type migrationFile struct{ name, sql string }

func migrationFiles(m Migrations, prefix string) ([]migrationFile, error) {
	if m.FS == nil {
		return nil, nil // a service with only the platform tables
	}
	entries, err := fs.ReadDir(m.FS, m.Dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migrationFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		b, err := fs.ReadFile(m.FS, path.Join(m.Dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, migrationFile{name: prefix + strings.TrimSuffix(e.Name(), ".up.sql"), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func applyOne(ctx context.Context, conn *pgx.Conn, ident string, f migrationFile) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var done bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+ident+".schema_migrations WHERE name = $1)", f.name).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		// The file names its tables unqualified; they land in the schema.
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, f.sql); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+ident+".schema_migrations (name) VALUES ($1)", f.name)
		return err
	})
}
