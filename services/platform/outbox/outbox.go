// Package outbox publishes a service's events through a transactional
// outbox and serves them as a pull feed; [Consumer] reads another service's
// feed and applies each event exactly once in its own database.
//
// Ordering without serializing writers: a bigserial drawn by a transaction
// that commits after a later one would let a reader move its cursor past an
// event it has not seen yet. Each row therefore records the id of the
// transaction that wrote it (txid), the feed is ordered by (txid, position),
// and [Read] serves only rows whose txid is below the xmin of the current
// snapshot: every transaction that could still add a row before them has
// finished, and any transaction that commits later has a larger txid. The
// price is latency, not throughput: while a transaction that took an xid
// earlier is still open anywhere in the cluster, newer events wait for it.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/tracing"
)

// Append writes ev into the outbox of the transaction's schema. It fills in
// event_id and occur_time when empty.
func Append(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	if ev.GetTraceparent() == "" {
		ev.Traceparent = tracing.Inject(ctx)
	}
	row, err := outboxRow(ev)
	if err != nil {
		return err
	}
	const q = `INSERT INTO outbox (event_id, case_number, kind, payload) VALUES ($1, $2, $3, $4)`
	if err := pgdb.Later(ctx, tx, q, row...); err != nil {
		return fmt.Errorf("outbox: insert: %w", err)
	}
	pgdb.OnCommit(tx, appended.fire)
	return nil
}

// AppendAll writes many events with one COPY (a bulk import's), filling
// in event ids and times like Append.
func AppendAll(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) error {
	rows := make([][]any, len(evs))
	traceparent := tracing.Inject(ctx)
	for i, ev := range evs {
		if ev.GetTraceparent() == "" {
			ev.Traceparent = traceparent
		}
		row, err := outboxRow(ev)
		if err != nil {
			return err
		}
		rows[i] = row
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"outbox"}, []string{"event_id", "case_number", "kind", "payload"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("outbox: copy: %w", err)
	}
	pgdb.OnCommit(tx, appended.fire)
	return nil
}

// appended wakes the feed's waiting readers (ListEvents with max_wait)
// after a transaction of this process that appended events commits. It is
// a hint: a reader woken reads the feed, and one never woken (the events
// of another replica of the service) reads it when its wait ends.
var appended = newSignal()

// signal is a broadcast: fire wakes everyone waiting on the channel that
// wait returned before.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

// outboxRow completes ev (event id, time; no position: the row's) and
// returns its outbox columns: event_id, case_number, kind, payload.
func outboxRow(ev *eventsv1.Event) ([]any, error) {
	if ev.GetEventId() == "" {
		ev.EventId = uuid.NewString()
	}
	if ev.GetOccurTime() == nil {
		ev.OccurTime = timestamppb.Now()
	}
	ev.Position = 0
	payload, err := proto.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("outbox: marshal: %w", err)
	}
	return []any{ev.GetEventId(), ev.GetCaseNumber(), kind(ev), payload}, nil
}

func kind(ev *eventsv1.Event) string {
	if p := ev.ProtoReflect().WhichOneof(ev.ProtoReflect().Descriptor().Oneofs().ByName("payload")); p != nil {
		return string(p.Message().FullName())
	}
	return "unknown"
}

// Read returns up to limit events after cursor (empty: from the start), in
// feed order, each with its own cursor set.
func Read(ctx context.Context, pool *pgxpool.Pool, after string, limit int) ([]*eventsv1.Event, error) {
	cur, err := ParseCursor(after)
	if err != nil {
		return nil, err
	}
	// ORDER BY names the table's column: a bare "txid" would sort by the
	// text output column of the same name ("999" after "1216").
	const q = `SELECT o.txid::text AS txid_text, o.position, o.payload FROM outbox o
		WHERE (o.txid, o.position) > ($1::text::xid8, $2)
		  AND o.txid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY o.txid, o.position LIMIT $3`
	rows, err := pool.Query(ctx, q, strconv.FormatUint(cur.txid, 10), cur.position, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: read: %w", err)
	}
	return scanEvents(rows)
}

// Written returns every committed event in the outbox in position order,
// whether or not the feed serves it yet (for tests and diagnostics; it
// ignores the frontier that makes [Read] safe for consumers).
func Written(ctx context.Context, pool *pgxpool.Pool) ([]*eventsv1.Event, error) {
	rows, err := pool.Query(ctx, `SELECT txid::text, position, payload FROM outbox ORDER BY position`)
	if err != nil {
		return nil, fmt.Errorf("outbox: written: %w", err)
	}
	return scanEvents(rows)
}

func scanEvents(rows pgx.Rows) ([]*eventsv1.Event, error) {
	defer rows.Close()
	var out []*eventsv1.Event
	for rows.Next() {
		var txid string
		var pos int64
		var payload []byte
		if err := rows.Scan(&txid, &pos, &payload); err != nil {
			return nil, fmt.Errorf("outbox: scan: %w", err)
		}
		ev := &eventsv1.Event{}
		if err := proto.Unmarshal(payload, ev); err != nil {
			return nil, fmt.Errorf("outbox: event at %d: %w", pos, err)
		}
		x, err := strconv.ParseUint(txid, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("outbox: txid %q: %w", txid, err)
		}
		ev.Position = pos
		ev.Cursor = Cursor{txid: x, position: pos}.String()
		out = append(out, ev)
	}
	return out, rows.Err()
}

// Cursor is a place in a feed: after the event written by transaction txid
// at position.
type Cursor struct {
	txid     uint64
	position int64
}

// ErrBadCursor says a cursor string is malformed.
var ErrBadCursor = errors.New("outbox: malformed cursor")

// ParseCursor reads a cursor made by [Cursor.String]; "" is the start.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	a, b, ok := strings.Cut(s, ".")
	x, err1 := strconv.ParseUint(a, 10, 64)
	p, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || p < 0 {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{txid: x, position: p}, nil
}

// String encodes the cursor ("txid.position").
func (c Cursor) String() string {
	if c == (Cursor{}) {
		return ""
	}
	return strconv.FormatUint(c.txid, 10) + "." + strconv.FormatInt(c.position, 10)
}

// After reports whether c comes after d in feed order.
func (c Cursor) After(d Cursor) bool {
	if c.txid != d.txid {
		return c.txid > d.txid
	}
	return c.position > d.position
}

// FeedServer serves a schema's outbox as [eventsv1.EventFeedServiceServer].
type FeedServer struct {
	eventsv1.UnimplementedEventFeedServiceServer
	Pool *pgxpool.Pool
	// Stopping, when it closes, ends every wait for new events (the
	// process is shutting down).
	Stopping <-chan struct{}
}

// ListEvents implements the feed.
func (s *FeedServer) ListEvents(ctx context.Context, req *eventsv1.ListEventsRequest) (*eventsv1.ListEventsResponse, error) {
	// Only Tongban's own services read feeds in the skeleton; outside
	// integrators get filtered feeds with the access-control issue.
	if c, ok := auth.FromContext(ctx); !ok || !policy.May(c, policy.ReadFeeds) {
		return nil, fault.New(fault.PermissionDenied, "FEED_NOT_ALLOWED", "event feeds are for Tongban services")
	}
	var v fault.Violations
	if _, err := ParseCursor(req.GetAfterCursor()); err != nil {
		v.Add("after_cursor", "is not a cursor of this feed (use an Event.cursor, or empty for the start)")
	}
	if req.GetPageSize() < 0 {
		v.Add("page_size", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	limit := int(req.GetPageSize())
	if limit == 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	evs, err := s.read(ctx, req.GetAfterCursor(), limit, min(req.GetMaxWait().AsDuration(), maxWait))
	if err != nil {
		return nil, fault.Hide(err)
	}
	return &eventsv1.ListEventsResponse{Events: evs}, nil
}

// maxWait bounds ListEvents' max_wait.
const maxWait = 30 * time.Second

// read reads the feed; while nothing is readable it waits, up to wait,
// for a transaction of this process that appended events to commit. Such
// events may still be hidden behind an older transaction that has not
// finished (see the package comment), so after a wake that found nothing
// it reads again after a short, growing pause.
func (s *FeedServer) read(ctx context.Context, after string, limit int, wait time.Duration) ([]*eventsv1.Event, error) {
	deadline := time.Now().Add(wait)
	recheck := time.Duration(0) // 0: until woken or the deadline
	for {
		woken := appended.wait() // before reading, so no commit goes unnoticed
		evs, err := Read(ctx, s.Pool, after, limit)
		left := time.Until(deadline)
		if err != nil || len(evs) > 0 || left <= 0 {
			return evs, err
		}
		pause := left
		if recheck > 0 {
			pause = min(pause, recheck)
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, nil // the reader has gone
		case <-s.Stopping:
			timer.Stop()
			return nil, nil
		case <-woken:
			recheck = 5 * time.Millisecond
		case <-timer.C:
			if recheck > 0 {
				recheck = min(recheck*2, 200*time.Millisecond)
			}
		}
		timer.Stop()
	}
}

// pollDelay is how long a consumer waits after an empty read that the
// producer answered at once (no long poll: FEED_WAIT=0, or a producer
// stopping), and the first pause after a failed step.
const pollDelay = 150 * time.Millisecond

// lingerDelay is how long a consumer waits after a partial batch of a
// quiet feed; maxLinger the most it waits after one of a busy feed.
const (
	lingerDelay = 50 * time.Millisecond
	maxLinger   = 250 * time.Millisecond
)

// busyBatch is the partial batch that shows a busy feed: below it the
// consumer lingers lingerDelay, so events travel on soon. (At 16, `make
// loadtest`'s mixed workload, whose feeds carry a few hundred events a
// second, made 41 moves a second of each kind instead of 48; at 64, 47.)
const busyBatch = 64

// linger is how long a consumer waits after reading a partial batch of n
// events of page, the events that came in over interval (since its last
// read began). On a busy feed it waits about as long as the next page
// takes to fill at that rate, at most maxLinger: each batch costs its
// consumer a transaction, a read of the feed and, in the consumers that
// gather their writes, a statement per table, so under load fuller
// batches leave more of the machine to the requests that make the events
// (figures in docs/performance.md).
func linger(n, page int, interval time.Duration) time.Duration {
	if n < busyBatch || n >= page || interval <= 0 {
		return lingerDelay
	}
	fill := time.Duration(float64(interval) * float64(page-n) / float64(n))
	return min(max(fill, lingerDelay), maxLinger)
}
