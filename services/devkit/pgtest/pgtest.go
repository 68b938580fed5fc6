// Package pgtest gives every test its own fresh PostgreSQL database: the
// package's migrations are applied once to a template database, and each
// test gets a clone of it (CREATE DATABASE … TEMPLATE), dropped when the test
// ends.
//
// The server is $TEST_DATABASE_URL when set (make test starts one throwaway
// cluster for the whole run); otherwise a private cluster is started in a
// temporary directory for the package and removed afterwards.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/devkit/pgcluster"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// Instance is a server with a migrated template database.
type Instance struct {
	schema   string
	admin    *pgx.Conn // to the maintenance database
	baseURL  *url.URL
	template string
	cluster  *pgcluster.Cluster
	tmpDir   string
	mu       sync.Mutex // CREATE DATABASE … TEMPLATE needs the template idle
}

// MustStart prepares a template database holding schema with the given
// migrations, or exits the test binary.
func MustStart(schema string, m pgdb.Migrations) *Instance {
	inst, err := start(schema, m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	return inst
}

func start(schema string, m pgdb.Migrations) (*Instance, error) {
	ctx := context.Background()
	inst := &Instance{schema: schema}
	if err := inst.connect(ctx); err != nil {
		return nil, err
	}
	inst.template = "tpl_" + schema + "_" + randomSuffix()
	if _, err := inst.admin.Exec(ctx, "CREATE DATABASE "+inst.template); err != nil {
		return nil, fmt.Errorf("create template: %w", err)
	}
	pool, err := pgdb.Open(ctx, inst.urlFor(inst.template), schema)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, schema, m); err != nil {
		return nil, err
	}
	return inst, nil
}

// connect reaches $TEST_DATABASE_URL or starts a private cluster.
func (i *Instance) connect(ctx context.Context) error {
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		dir, err := os.MkdirTemp("", "tongban-pgtest-")
		if err != nil {
			return err
		}
		i.tmpDir = dir
		c, err := pgcluster.Start(ctx, dir+"/data", pgcluster.Options{})
		if err != nil {
			os.RemoveAll(dir)
			return err
		}
		i.cluster = c
		raw = c.URL("postgres")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse TEST_DATABASE_URL: %w", err)
	}
	i.baseURL = u
	if i.admin, err = pgx.Connect(ctx, raw); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// MustStartEmpty prepares a server on which [Instance.NewEmptyDatabaseURL]
// creates empty databases (for tests that run the real binaries, which
// migrate their own schemas), or exits the test binary.
func MustStartEmpty() *Instance {
	inst := &Instance{}
	if err := inst.connect(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	return inst
}

// NewEmptyDatabaseURL creates an empty database, dropped when t ends.
func (i *Instance) NewEmptyDatabaseURL(t testing.TB) string {
	t.Helper()
	return i.createDatabase(t, "CREATE DATABASE %s")
}

// NewDatabase returns a pool on a fresh clone of the template, bound to the
// schema; the database is dropped when t ends.
func (i *Instance) NewDatabase(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := i.NewDatabaseURL(t)
	pool, err := pgdb.Open(context.Background(), url, i.schema)
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewDatabaseURL clones the template and returns the clone's URL; the
// database is dropped when t ends.
func (i *Instance) NewDatabaseURL(t testing.TB) string {
	t.Helper()
	return i.createDatabase(t, "CREATE DATABASE %s TEMPLATE "+i.template)
}

func (i *Instance) createDatabase(t testing.TB, stmt string) string {
	t.Helper()
	name := "t_" + i.schema + "_" + randomSuffix()
	i.mu.Lock()
	_, err := i.admin.Exec(context.Background(), fmt.Sprintf(stmt, name))
	i.mu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		i.mu.Lock()
		defer i.mu.Unlock()
		if _, err := i.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	return i.urlFor(name)
}

// MustClose drops the template and stops a private cluster.
func (i *Instance) MustClose() {
	ctx := context.Background()
	if i.template != "" {
		_, _ = i.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+i.template+" WITH (FORCE)")
	}
	_ = i.admin.Close(ctx)
	if i.cluster != nil {
		if err := i.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	if i.tmpDir != "" {
		os.RemoveAll(i.tmpDir)
	}
}

func (i *Instance) urlFor(db string) string {
	u := *i.baseURL
	u.Path = "/" + db
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
