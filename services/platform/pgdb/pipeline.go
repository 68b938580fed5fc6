package pgdb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pipeline is a transaction that makes as few round trips to PostgreSQL as
// its statements allow: BEGIN goes out with the first statement, writes
// queued with Later go out with the next statement whose answer the caller
// waits for, and COMMIT with the last of them. A registration that took
// twelve round trips takes six. On a machine where a round trip costs more
// than the SQL (syscalls under virtualisation), that is most of a write's
// CPU and latency.
//
// A statement queued with Later reports its error at the next round trip,
// as a *DeferredError naming it (so that it is never taken for the error of
// the statement that carried it), translated by the function LaterAs was
// given: the transaction is aborted by then and the caller's error path
// rolls it back, as with any failed statement. Savepoints are not
// supported.
type Pipeline struct {
	conn   *pgxpool.Conn
	queued []queuedStatement
	begun  bool // BEGIN was sent
	closed bool
	// onCommit runs after a successful Commit (OnCommit).
	onCommit []func()
}

type queuedStatement struct {
	sql  string
	args []any
	as   func(error) error // LaterAs's translation of its failure, or nil
}

// DeferredError is the failure of a statement queued with Later or LaterAs,
// reported by the call that sent it (a later statement, or the commit).
type DeferredError struct {
	SQL string // the statement that failed
	Err error  // its error, as LaterAs translated it
}

func (e *DeferredError) Error() string {
	return "pgdb: a statement queued earlier failed: " + e.Err.Error()
}
func (e *DeferredError) Unwrap() error { return e.Err }

var _ pgx.Tx = (*Pipeline)(nil)

// errNoSavepoints is Pipeline.Begin's answer.
var errNoSavepoints = errors.New("pgdb.Pipeline: savepoints are not supported")

// BeginPipeline starts a pipelined transaction on a connection of pool
// (nothing is sent yet).
func BeginPipeline(ctx context.Context, pool *pgxpool.Pool) (*Pipeline, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &Pipeline{conn: c}, nil
}

// InPipeline is InTx with a Pipeline: fn's statements are pipelined, and
// a serialization failure or deadlock runs fn again (at most 5 times).
func InPipeline(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	return withRetries(ctx, func() error { return runPipeline(ctx, pool, fn) })
}

func runPipeline(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	p, err := BeginPipeline(ctx, pool)
	if err != nil {
		return err
	}
	defer p.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit, ErrTxClosed
	if err := fn(p); err != nil {
		return err
	}
	return p.Commit(ctx)
}

// Later runs a statement whose result nobody reads: in a Pipeline it is
// queued for the next round trip, in another transaction it runs at once.
func Later(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	return LaterAs(ctx, tx, nil, sql, args...)
}

// LaterAs is Later for a statement whose failure means something to its
// caller (a unique key taken): as translates it into the caller's error,
// now in an ordinary transaction, and, in a Pipeline, at the round trip
// that reports it, inside a *DeferredError (which errors.Is sees through).
func LaterAs(ctx context.Context, tx pgx.Tx, as func(error) error, sql string, args ...any) error {
	if p, ok := tx.(*Pipeline); ok && !p.closed {
		p.queued = append(p.queued, queuedStatement{sql, args, as})
		return nil
	}
	_, err := tx.Exec(ctx, sql, args...)
	if err != nil && as != nil {
		err = as(err)
	}
	return err
}

// LaterBatch runs b's statements, whose results nobody reads: in a
// Pipeline they are queued for the next round trip, in another transaction
// they are sent at once, in one round trip.
func LaterBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if p, ok := tx.(*Pipeline); ok && !p.closed {
		for _, q := range b.QueuedQueries {
			p.queued = append(p.queued, queuedStatement{sql: q.SQL, args: q.Arguments})
		}
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// send sends BEGIN (the first time), the queued statements and then own's
// statements in one batch, and reads the results of all but own's, which
// the caller reads from the returned results.
func (p *Pipeline) send(ctx context.Context, own ...*pgx.QueuedQuery) (pgx.BatchResults, error) {
	if p.closed {
		return nil, pgx.ErrTxClosed
	}
	b := &pgx.Batch{}
	begin := !p.begun
	if begin {
		b.Queue("begin")
	}
	queued := p.queued
	for _, q := range queued {
		b.Queue(q.sql, q.args...)
	}
	prefix := len(b.QueuedQueries)
	b.QueuedQueries = append(b.QueuedQueries, own...)
	p.begun, p.queued = true, nil
	br := p.conn.SendBatch(ctx, b)
	for i := range prefix {
		if _, err := br.Exec(); err != nil {
			br.Close()
			if begin && i == 0 {
				return nil, err
			}
			q := queued[i-prefix+len(queued)]
			if q.as != nil {
				err = q.as(err)
			}
			return nil, &DeferredError{SQL: q.sql, Err: err}
		}
	}
	return br, nil
}

// Exec runs sql, with whatever is queued, in one round trip.
func (p *Pipeline) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := p.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Query runs sql, with whatever is queued, in one round trip.
func (p *Pipeline) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	br, err := p.send(ctx, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &pipelineRows{Rows: rows, results: br}, nil
}

// QueryRow is Query for one row.
func (p *Pipeline) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := p.Query(ctx, sql, args...)
	return pipelineRow{rows: rows, err: err}
}

// SendBatch sends b after whatever is queued, in one round trip.
func (p *Pipeline) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	br, err := p.send(ctx, b.QueuedQueries...)
	if err != nil {
		return failedBatch{err}
	}
	return br
}

// CopyFrom sends what is queued, then copies (COPY cannot share a round
// trip).
func (p *Pipeline) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if len(p.queued) > 0 || !p.begun {
		br, err := p.send(ctx)
		if err != nil {
			return 0, err
		}
		if err := br.Close(); err != nil {
			return 0, err
		}
	}
	return p.conn.CopyFrom(ctx, table, columns, src)
}

// Commit sends what is queued and COMMIT in one round trip and returns the
// connection to the pool.
func (p *Pipeline) Commit(ctx context.Context) error {
	if p.closed {
		return pgx.ErrTxClosed
	}
	if !p.begun && len(p.queued) == 0 {
		p.close()
		runHooks(p.onCommit)
		return nil // nothing was sent
	}
	br, err := p.send(ctx, &pgx.QueuedQuery{SQL: "commit"})
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && p.conn.Conn().PgConn().TxStatus() != 'I' {
		// A queued statement failed: the server skipped the rest of the
		// batch, COMMIT included. Roll back so that the connection goes
		// back to the pool usable (the pool discards one left in a
		// transaction).
		_, _ = p.conn.Exec(context.WithoutCancel(ctx), "rollback")
	}
	p.close()
	if err == nil && tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	if err == nil {
		runHooks(p.onCommit)
	}
	return err
}

// Rollback drops what is queued, rolls back what was sent and returns the
// connection to the pool (which discards it if the rollback failed).
func (p *Pipeline) Rollback(ctx context.Context) error {
	if p.closed {
		return pgx.ErrTxClosed
	}
	defer p.close()
	if !p.begun {
		return nil
	}
	_, err := p.conn.Exec(ctx, "rollback")
	return err
}

func (p *Pipeline) close() {
	p.closed, p.queued = true, nil
	p.conn.Release()
}

// Begin would start a savepoint; a Pipeline has none.
func (p *Pipeline) Begin(context.Context) (pgx.Tx, error) { return nil, errNoSavepoints }

// LargeObjects is not supported (the zero value fails every call).
func (p *Pipeline) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Prepare prepares a statement on the connection.
func (p *Pipeline) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return p.conn.Conn().Prepare(ctx, name, sql)
}

// Conn is the underlying connection.
func (p *Pipeline) Conn() *pgx.Conn { return p.conn.Conn() }

// pipelineRows closes the batch its rows came from when they are closed.
type pipelineRows struct {
	pgx.Rows
	results pgx.BatchResults
	closed  bool
	err     error
}

func (r *pipelineRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *pipelineRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.results.Close()
}

func (r *pipelineRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// pipelineRow is QueryRow's answer.
type pipelineRow struct {
	rows pgx.Rows
	err  error
}

func (r pipelineRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// failedBatch answers every call with the error that kept a batch from
// being sent.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return pipelineRow{err: f.err} }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }
