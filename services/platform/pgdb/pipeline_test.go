package pgdb_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// countingPool opens a pool of one connection whose writes to the server
// are counted (one per round trip), on a database with a table t.
func countingPool(t *testing.T) (*pgxpool.Pool, *atomic.Int64) {
	t.Helper()
	pool, writes := pgtest.NewCountingPool(t, testDB.NewEmptyDatabaseURL(t))
	if _, err := pool.Exec(context.Background(), `CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return pool, writes
}

// TestPipeline: statements queued with Later travel with the next statement
// whose answer is awaited, BEGIN with the first and COMMIT with the last,
// with the semantics of an ordinary transaction (the transaction reads its
// own queued writes; a failed queued write fails the transaction, which
// leaves nothing; a rollback leaves nothing).
func TestPipeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name       string
		fn         func(tx pgx.Tx) error
		wantErr    string // SQLSTATE of the error, "" for none
		wantRows   int
		wantWrites int64 // round trips, from BEGIN to COMMIT
	}{
		{
			name: "queued writes, a read and commit in two round trips",
			fn: func(tx pgx.Tx) error {
				for i := 1; i <= 3; i++ {
					if err := pgdb.Later(ctx, tx, `INSERT INTO t VALUES ($1, 'x')`, i); err != nil {
						return err
					}
				}
				var n int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
					return err
				}
				if n != 3 {
					return errors.New("the transaction did not read its queued writes")
				}
				return pgdb.Later(ctx, tx, `UPDATE t SET note = 'y' WHERE id = 1`)
			},
			wantRows: 3, wantWrites: 2,
		},
		{
			name: "Exec, Query, a batch and COPY in order",
			fn: func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO t VALUES (1, 'a')`); err != nil {
					return err
				}
				if err := pgdb.Later(ctx, tx, `INSERT INTO t VALUES (2, 'b')`); err != nil {
					return err
				}
				b := &pgx.Batch{}
				b.Queue(`INSERT INTO t VALUES (3, 'c')`)
				var seen int
				b.Queue(`SELECT count(*) FROM t`).QueryRow(func(r pgx.Row) error { return r.Scan(&seen) })
				if err := tx.SendBatch(ctx, b).Close(); err != nil {
					return err
				}
				if seen != 3 {
					return errors.New("the batch did not see the writes before it")
				}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"id", "note"}, pgx.CopyFromRows([][]any{{4, "d"}})); err != nil {
					return err
				}
				rows, err := tx.Query(ctx, `SELECT id FROM t ORDER BY id`)
				if err != nil {
					return err
				}
				ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
				if err != nil {
					return err
				}
				if len(ids) != 4 || ids[3] != 4 {
					return errors.New("rows missing")
				}
				return nil
			},
			// Exec, batch, COPY (three: pgx describes the columns, then the
			// copy and its data), query, commit.
			wantRows: 4, wantWrites: 7,
		},
		{
			name: "a failed queued write fails the transaction at the next round trip",
			fn: func(tx pgx.Tx) error {
				if err := pgdb.Later(ctx, tx, `INSERT INTO t VALUES (1, 'a')`); err != nil {
					return err
				}
				if err := pgdb.Later(ctx, tx, `INSERT INTO t VALUES (1, 'twice')`); err != nil {
					return err
				}
				var n int
				return tx.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n)
			},
			// The batch (after pgx prepares its statements again: it forgets
			// those of a failed batch, and the warm-up run failed too), the
			// rollback.
			wantErr: "23505", wantRows: 0, wantWrites: 3,
		},
		{
			name: "a queued write failing at COMMIT leaves nothing and the connection usable",
			fn: func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO t VALUES (1, 'a')`); err != nil {
					return err
				}
				return pgdb.Later(ctx, tx, `INSERT INTO t VALUES (1, 'twice')`)
			},
			// The insert; the failed batch (prepared again, as above) with
			// the COMMIT the server skipped; the rollback.
			wantErr: "23505", wantRows: 0, wantWrites: 4,
		},
		{
			name: "an error before anything was sent sends nothing",
			fn: func(tx pgx.Tx) error {
				if err := pgdb.Later(ctx, tx, `INSERT INTO t VALUES (1, 'a')`); err != nil {
					return err
				}
				return &pgconn.PgError{Code: "P0001"}
			},
			wantErr: "P0001", wantRows: 0, wantWrites: 0,
		},
		{
			name:    "no savepoints",
			fn:      func(tx pgx.Tx) error { _, err := tx.Begin(ctx); return err },
			wantErr: "savepoints", wantRows: 0, wantWrites: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, writes := countingPool(t)
			// A first run prepares the statements (pgx describes a new
			// statement once per connection); the second is counted.
			pgdb.InPipeline(ctx, pool, tc.fn) //nolint:errcheck // checked below, in the counted run
			if _, err := pool.Exec(ctx, `TRUNCATE t`); err != nil {
				t.Fatal(err)
			}
			before := writes.Load()
			err := pgdb.InPipeline(ctx, pool, tc.fn)
			got := writes.Load() - before
			var pgErr *pgconn.PgError
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("InPipeline: %v", err)
			case tc.wantErr == "savepoints" && (err == nil || errors.As(err, &pgErr)):
				t.Fatalf("InPipeline: %v, want the savepoint refusal", err)
			case tc.wantErr != "" && tc.wantErr != "savepoints" && (!errors.As(err, &pgErr) || pgErr.Code != tc.wantErr):
				t.Fatalf("InPipeline: %v, want SQLSTATE %s", err, tc.wantErr)
			}
			if got != tc.wantWrites {
				t.Errorf("%d round trips, want %d", got, tc.wantWrites)
			}
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
				t.Fatal(err) // also: the connection came back to the pool usable
			}
			if n != tc.wantRows {
				t.Errorf("%d rows after, want %d", n, tc.wantRows)
			}
			if dialled := pool.Stat().NewConnsCount(); dialled != 1 {
				t.Errorf("%d connections dialled: a transaction's connection went back to the pool unusable", dialled)
			}
		})
	}
}

// TestOnCommit: a function given to OnCommit runs once the transaction
// has committed (InTx, a savepoint of it, InPipeline, a pipeline that sent
// nothing), never before, and not when it rolls back.
func TestOnCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := countingPool(t)
	inSavepoint := func(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
		return pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			if err := fn(sp); err != nil {
				return err
			}
			return sp.Commit(ctx)
		})
	}
	for _, c := range []struct {
		name  string
		in    func(context.Context, *pgxpool.Pool, func(pgx.Tx) error) error
		write bool
	}{
		{"InTx", pgdb.InTx, true},
		{"savepoint", inSavepoint, true},
		{"InPipeline", pgdb.InPipeline, true},
		{"InPipeline, nothing sent", pgdb.InPipeline, false},
	} {
		for _, fail := range []bool{false, true} {
			ran := 0
			err := c.in(ctx, pool, func(tx pgx.Tx) error {
				pgdb.OnCommit(tx, func() { ran++ })
				if c.write {
					if err := pgdb.Later(ctx, tx, `INSERT INTO t (id, note) VALUES (1, 'x') ON CONFLICT (id) DO NOTHING`); err != nil {
						return err
					}
				}
				if ran != 0 {
					t.Errorf("%s: ran before the commit", c.name)
				}
				if fail {
					return errors.New("rolled back")
				}
				return nil
			})
			if want := map[bool]int{false: 1, true: 0}[fail]; ran != want || (err != nil) != fail {
				t.Errorf("%s, failing %v: ran %d times (want %d), err %v", c.name, fail, ran, want, err)
			}
		}
	}
}

// TestDeferredError: a queued statement's failure comes back as the
// caller's own error, at once in an ordinary transaction and from the round
// trip that reports it in a pipeline, where it also names the statement.
func TestDeferredError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	errTaken := errors.New("id taken")
	taken := func(err error) error {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return errTaken
		}
		return err
	}
	const insert = `INSERT INTO t VALUES (1, 'twice')`
	for _, tc := range []struct {
		name     string
		run      func(context.Context, *pgxpool.Pool, func(pgx.Tx) error) error
		deferred bool
	}{
		{"ordinary transaction", pgdb.InTx, false},
		{"pipeline", pgdb.InPipeline, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pool, _ := countingPool(t)
			if _, err := pool.Exec(ctx, `INSERT INTO t VALUES (1, 'a')`); err != nil {
				t.Fatal(err)
			}
			var laterErr error
			err := tc.run(ctx, pool, func(tx pgx.Tx) error {
				laterErr = pgdb.LaterAs(ctx, tx, taken, insert)
				if laterErr != nil {
					return laterErr
				}
				var n int
				return tx.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n) // carries the queued insert
			})
			if !errors.Is(err, errTaken) {
				t.Fatalf("err = %v, want the caller's errTaken", err)
			}
			var de *pgdb.DeferredError
			if got := errors.As(err, &de); got != tc.deferred {
				t.Fatalf("a DeferredError: %v, want %v (err %v)", got, tc.deferred, err)
			}
			if tc.deferred && (de.SQL != insert || laterErr != nil) {
				t.Errorf("the DeferredError names %q (LaterAs said %v), want the queued insert", de.SQL, laterErr)
			}
		})
	}
}
