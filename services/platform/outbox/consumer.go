package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/types/known/durationpb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/tracing"
)

// Consumer follows another service's feed. For each batch it applies every
// event not yet processed and advances its cursor, all in one transaction
// of its own database: a crash replays at most the uncommitted batch, and
// processed_events makes a replay harmless. The cursor row is locked
// during the batch, so two replicas never apply one batch concurrently; the
// loser skips what the winner applied.
type Consumer struct {
	// Feed names the producer (e.g. "intake"); it keys the cursor.
	Feed string
	// Pool is the consumer's own database.
	Pool *pgxpool.Pool
	// Client reads the producer's feed.
	Client eventsv1.EventFeedServiceClient
	// Apply makes the effect of one event inside tx.
	Apply func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error
	// Begin, when set instead of Apply, starts the batch of one
	// transaction with the events about to be applied (those not applied
	// before): the consumer applies them through the Batch, which may
	// gather their shared work and write it once at Flush.
	Begin Begin
	// BatchSize is the number of events read at once (default 200).
	BatchSize int32
	// Wait is how long a read of a drained feed waits for the next event
	// (a long poll; default 2 s, negative: answer at once). The producer
	// answers as soon as one of its transactions that appended events
	// commits; events committed by another replica of the producer are
	// seen when the wait ends.
	Wait time.Duration
	// Observe, when set, hears of every read: the events of a batch just
	// committed (none when the feed had nothing new), for metrics.
	Observe func(evs []*eventsv1.Event)
}

// Batch applies the events of one transaction: each with Apply, in feed
// order, then Flush once, before the cursor moves.
type Batch interface {
	Apply(ctx context.Context, ev *eventsv1.Event) error
	Flush(ctx context.Context) error
}

// Begin starts a Batch of evs in tx (a consumer's Begin).
type Begin func(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) (Batch, error)

// ApplyBatch applies evs in tx as one batch of begin's: what a consumer
// does with a page of its feed, without its spans and its cursor (a single
// event applied on its own; tests).
func ApplyBatch(ctx context.Context, tx pgx.Tx, begin Begin, evs ...*eventsv1.Event) error {
	b, err := begin(ctx, tx, evs)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if err := b.Apply(ctx, ev); err != nil {
			return err
		}
	}
	return b.Flush(ctx)
}

// applyEach is the Batch of a consumer with an Apply function.
type applyEach struct {
	tx    pgx.Tx
	apply func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error
}

func (a applyEach) Apply(ctx context.Context, ev *eventsv1.Event) error {
	return a.apply(ctx, a.tx, ev)
}
func (a applyEach) Flush(context.Context) error { return nil }

// Run follows the feed until ctx ends. Errors (the producer being down, a
// failed batch) are logged and retried with backoff; it returns nil when
// ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	logger := logging.FromContext(ctx).With("feed", c.Feed)
	backoff := pollDelay
	var last time.Time // when the previous read began
	for {
		start := time.Now()
		n, err := c.Step(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			logger.WarnContext(ctx, "feed step failed; retrying", slog.String("error", err.Error()), slog.Duration("backoff", backoff))
			backoff = min(max(backoff*2, pollDelay), 5*time.Second)
		case n == 0 && c.wait() > 0 && time.Since(start) >= c.wait()/2:
			backoff = 0 // the producer waited for news: ask again at once
		case n == 0:
			// A producer that answers at once (one stopping, or one
			// that does not wait) is asked again after a pause.
			backoff = pollDelay
		case n < int(c.pageSize()):
			// A partial batch: the feed is drained. Reading again at once
			// would, under load, carry a few events per transaction and
			// round trip; lingering lets the next batch fill (each event
			// costs its consumer a fraction of what a batch costs).
			var interval time.Duration
			if !last.IsZero() {
				interval = start.Sub(last)
			}
			backoff = linger(n, int(c.pageSize()), interval)
		default:
			backoff = 0
		}
		last = start
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
		}
	}
}

// Step reads and applies one batch, returning how many events it read.
func (c *Consumer) Step(ctx context.Context) (int, error) {
	cursor, err := c.cursor(ctx)
	if err != nil {
		return 0, err
	}
	req := &eventsv1.ListEventsRequest{AfterCursor: cursor, PageSize: c.pageSize()}
	if w := c.wait(); w > 0 {
		req.MaxWait = durationpb.New(w)
	}
	resp, err := c.Client.ListEvents(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("read feed %s: %w", c.Feed, err)
	}
	evs := resp.GetEvents()
	if len(evs) == 0 {
		if c.Observe != nil {
			c.Observe(nil)
		}
		return 0, nil
	}
	// Pipelined: BEGIN travels with the cursor's lock, every event's
	// writes that nobody reads (pgdb.Later) with the next statement that is
	// read, the cursor's update with COMMIT.
	err = pgdb.InPipeline(ctx, c.Pool, func(tx pgx.Tx) error {
		var stored string
		err := tx.QueryRow(ctx, `SELECT cursor FROM feed_cursors WHERE feed = $1 FOR UPDATE`, c.Feed).Scan(&stored)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		done, err := ParseCursor(stored)
		if err != nil {
			return err
		}
		last := done
		var todo []*eventsv1.Event
		var ids []string
		for _, ev := range evs {
			at, err := ParseCursor(ev.GetCursor())
			if err != nil {
				return fmt.Errorf("event %s: %w", ev.GetEventId(), err)
			}
			if !at.After(done) {
				continue // another replica applied it
			}
			todo, ids, last = append(todo, ev), append(ids, ev.GetEventId()), at
		}
		if len(todo) == 0 {
			return nil // all applied by another replica; the cursor stays
		}
		// The batch's events marked processed in one statement; those
		// already marked (a replay) are not applied again.
		rows, err := tx.Query(ctx, `WITH marked AS (INSERT INTO processed_events (event_id, feed)
				SELECT id::uuid, $2 FROM unnest($1::text[]) AS id ON CONFLICT DO NOTHING RETURNING event_id)
			SELECT id FROM unnest($1::text[]) AS id WHERE id::uuid IN (SELECT event_id FROM marked)`, ids, c.Feed)
		if err != nil {
			return err
		}
		fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		apply := make(map[string]bool, len(fresh))
		for _, id := range fresh {
			apply[id] = true
		}
		var batch []*eventsv1.Event
		for _, ev := range todo {
			if apply[ev.GetEventId()] {
				delete(apply, ev.GetEventId()) // once, even were an id twice in a batch
				batch = append(batch, ev)
			}
		}
		if len(batch) > 0 {
			if err := c.applyAll(ctx, tx, batch); err != nil {
				return err
			}
		}
		return pgdb.Later(ctx, tx, `INSERT INTO feed_cursors (feed, cursor) VALUES ($1, $2)
			ON CONFLICT (feed) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()`, c.Feed, last.String())
	})
	if err != nil {
		return 0, err
	}
	if c.Observe != nil {
		c.Observe(evs)
	}
	return len(evs), nil
}

// applyAll applies a batch's fresh events, each in a span of its own
// continuing the trace that wrote it.
func (c *Consumer) applyAll(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
	var b Batch = applyEach{tx, c.Apply}
	if c.Begin != nil {
		var err error
		if b, err = c.Begin(ctx, tx, evs); err != nil {
			return fmt.Errorf("begin batch: %w", err)
		}
	}
	flushed := false
	for _, ev := range evs {
		actx, span := tracing.StartConsumer(ctx, ev.GetTraceparent(), "apply "+kind(ev),
			attribute.String("tongban.feed", c.Feed), attribute.String("tongban.event_id", ev.GetEventId()))
		err := b.Apply(actx, ev)
		if err == nil && len(evs) == 1 {
			// A batch of one event flushes in the event's span: its writes
			// are that event's, and so is the trace they continue.
			flushed, err = true, b.Flush(actx)
			if err != nil {
				err = fmt.Errorf("flush batch: %w", err)
			}
		}
		tracing.End(span, err)
		if err != nil {
			return fmt.Errorf("apply event %s at %s: %w", ev.GetEventId(), ev.GetCursor(), err)
		}
	}
	if !flushed {
		if err := b.Flush(ctx); err != nil {
			return fmt.Errorf("flush batch: %w", err)
		}
	}
	return nil
}

func (c *Consumer) wait() time.Duration {
	if c.Wait == 0 {
		return 2 * time.Second
	}
	return max(c.Wait, 0)
}

func (c *Consumer) pageSize() int32 {
	if c.BatchSize == 0 {
		return 200
	}
	return c.BatchSize
}

func (c *Consumer) cursor(ctx context.Context) (string, error) {
	var cur string
	err := c.Pool.QueryRow(ctx, `SELECT cursor FROM feed_cursors WHERE feed = $1`, c.Feed).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return cur, err
}
