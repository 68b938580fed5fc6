package pgdb_test

import (
	"context"
	"os"
	"testing"
	"testing/fstest"

	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/pgdb"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStartEmpty()
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

// TestMigrateTwiceAndConcurrently: replicas starting together, and a
// restart, apply each file once, into the service's own schema.
func TestMigrateTwiceAndConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testDB.NewEmptyDatabaseURL(t)
	m := pgdb.Migrations{FS: fstest.MapFS{
		"000001_a.up.sql": {Data: []byte(`CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1);`)},
		"000002_b.up.sql": {Data: []byte(`INSERT INTO a VALUES (2);`)},
		"README.md":       {Data: []byte(`not a migration`)},
	}, Dir: "."}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			pool, err := pgdb.Open(ctx, url, "svc")
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- pgdb.Migrate(ctx, pool, "svc", m)
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	pool, err := pgdb.Open(ctx, url, "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, "svc", m); err != nil {
		t.Fatal(err)
	}
	var rows, applied int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM svc.a`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM svc.schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if rows != 2 || applied != 6 { // two own files + the platform tables (four files)
		t.Fatalf("rows %d applied %d, want 2 and 6", rows, applied)
	}
	// The platform tables landed in the service's schema.
	var outbox bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('svc.outbox') IS NOT NULL`).Scan(&outbox); err != nil || !outbox {
		t.Fatalf("svc.outbox missing: %v", err)
	}
}

// TestOpenSettings: a service's connections use its schema, UTC, its
// application name, and no JIT compilation.
func TestOpenSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, testDB.NewEmptyDatabaseURL(t), "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var path, zone, app, jit string
	if err := pool.QueryRow(ctx, `SELECT current_setting('search_path'), current_setting('timezone'),
		current_setting('application_name'), current_setting('jit')`).Scan(&path, &zone, &app, &jit); err != nil {
		t.Fatal(err)
	}
	if path != "svc" || zone != "UTC" || app != "tongban-svc" || jit != "off" {
		t.Errorf("search_path %q, timezone %q, application_name %q, jit %q", path, zone, app, jit)
	}
}
