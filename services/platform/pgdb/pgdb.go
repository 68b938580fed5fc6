// Package pgdb opens a service's PostgreSQL pool (bound to the service's own
// schema), runs transactions with bounded retries, and applies migrations.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/tracing"
)

// Open connects to url with search_path set to schema, so that a service's
// SQL names its own tables unqualified and cannot reach another's by
// accident. It pings before returning.
func Open(ctx context.Context, url, schema string) (*pgxpool.Pool, error) {
	cfg, err := Config(url, schema)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// Config is Open's pool configuration: url's, with search_path set to
// schema, times in UTC, the application named tongban-<schema>, no JIT
// compilation and the statements traced.
func Config(url, schema string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.ConnConfig.Tracer = tracing.PgxTracer{}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	cfg.ConnConfig.RuntimeParams["application_name"] = "tongban-" + schema
	// No JIT compilation: the services' statements are short, and with
	// stale statistics after an import a cheap look-up's estimate crosses
	// jit_above_cost and compiling it costs forty times running it.
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	return cfg, nil
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise. On a serialization failure or deadlock it runs the whole
// fn again (at most 5 times), so fn must be idempotent and must have no
// side effects outside the database.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	return withRetries(ctx, func() error {
		var hooks []func()
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(&hookedTx{Tx: tx, onCommit: &hooks}) })
		if err == nil {
			runHooks(hooks)
		}
		return err
	})
}

// hookedTx is a transaction of InTx: it keeps the functions to run once
// it has committed (OnCommit), its savepoints' included.
type hookedTx struct {
	pgx.Tx
	onCommit *[]func()
}

// Begin starts a savepoint whose OnCommit functions run when the whole
// transaction commits.
func (t *hookedTx) Begin(ctx context.Context) (pgx.Tx, error) {
	sp, err := t.Tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &hookedTx{Tx: sp, onCommit: t.onCommit}, nil
}

// OnCommit runs fn after tx has committed, if it does (a transaction of
// InTx or InPipeline, or a savepoint of one; fn runs once per attempt that
// commits). It is meant for hints to the process, such as waking readers
// of what tx wrote: in a transaction begun any other way fn runs at once,
// and a function registered in a savepoint that was rolled back still runs.
func OnCommit(tx pgx.Tx, fn func()) {
	switch t := tx.(type) {
	case *hookedTx:
		*t.onCommit = append(*t.onCommit, fn)
	case *Pipeline:
		t.onCommit = append(t.onCommit, fn)
	default:
		fn()
	}
}

func runHooks(hooks []func()) {
	for _, fn := range hooks {
		fn()
	}
}

// withRetries runs a transaction, and again on a serialization failure or
// deadlock (at most 5 times in all).
func withRetries(ctx context.Context, run func() error) error {
	const attempts = 5
	var err error
	for i := 0; i < attempts; i++ {
		err = run()
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 10 * time.Millisecond):
		}
	}
	return err
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
