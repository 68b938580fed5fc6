package outbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStart("feedtest", pgdb.Migrations{})
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

func appendEvent(t *testing.T, ctx context.Context, tx pgx.Tx, caseNumber string) {
	t.Helper()
	ev := &eventsv1.Event{CaseNumber: caseNumber, Payload: &eventsv1.Event_CaseRegistered{CaseRegistered: &eventsv1.CaseRegistered{County: "330421"}}}
	if err := Append(ctx, tx, ev); err != nil {
		t.Fatal(err)
	}
}

// TestLateCommitIsNotSkipped: an event written by a transaction that is
// still open holds back every event after it, and then both are served in
// feed order; the reader's cursor never passes an event that commits late.
func TestLateCommitIsNotSkipped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testDB.NewDatabase(t)
	commit := func(tx pgx.Tx) {
		t.Helper()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	read := func(after string) []*eventsv1.Event {
		t.Helper()
		evs, err := Read(ctx, pool, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}

	// slow takes its transaction id first but writes its event last.
	slow, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	fast, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendEvent(t, ctx, fast, "330421-2026-000002")
	commit(fast)
	if evs := read(""); len(evs) != 0 {
		t.Fatalf("served %d events while an older transaction is open, want 0", len(evs))
	}
	appendEvent(t, ctx, slow, "330421-2026-000001")
	commit(slow)
	// The frontier is cluster-wide: transactions of tests running in
	// parallel (other databases) hold it back for a moment too.
	var evs []*eventsv1.Event
	for deadline := time.Now().Add(10 * time.Second); len(evs) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		evs = read("")
	}
	if len(evs) != 2 || evs[0].GetCaseNumber() != "330421-2026-000001" || evs[1].GetCaseNumber() != "330421-2026-000002" {
		t.Fatalf("events = %v, want case 1 (older transaction) then case 2", evs)
	}
	if rest := read(evs[0].GetCursor()); len(rest) != 1 || rest[0].GetEventId() != evs[1].GetEventId() {
		t.Fatalf("after the first cursor: %v", rest)
	}
	if rest := read(evs[1].GetCursor()); len(rest) != 0 {
		t.Fatalf("after the last cursor: %v", rest)
	}
	if _, err := Read(ctx, pool, "nonsense", 10); err == nil {
		t.Fatal("a malformed cursor was accepted")
	}
}

// TestConsumerAppliesEachEventOnce runs the feed over real gRPC, appends
// events from many goroutines, and checks a consumer (two of them racing
// on one cursor) applies every event exactly once and in order.
func TestConsumerAppliesEachEventOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	producer := testDB.NewDatabase(t)
	consumer := testDB.NewDatabase(t)
	if _, err := consumer.Exec(ctx, `CREATE TABLE applied (position bigint PRIMARY KEY, case_number text NOT NULL)`); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(auth.New(directory.Demo()).WithService(authtest.ServiceCredential).UnaryServerInterceptor()))
	eventsv1.RegisterEventFeedServiceServer(srv, &FeedServer{Pool: producer})
	go srv.Serve(l) //nolint:errcheck
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), auth.ServiceCredential(authtest.ServiceCredential))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	const writers, perWriter = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				err := pgdb.InTx(ctx, producer, func(tx pgx.Tx) error {
					appendEvent(t, ctx, tx, "330421-2026-"+string(rune('a'+w))+string(rune('a'+i)))
					// Commit out of order: later writers often commit first.
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	apply := func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
		_, err := tx.Exec(ctx, `INSERT INTO applied (position, case_number) VALUES ($1, $2)`, ev.GetPosition(), ev.GetCaseNumber())
		return err // a duplicate would fail the primary key and the test
	}
	c1 := &Consumer{Feed: "producer", Pool: consumer, Client: eventsv1.NewEventFeedServiceClient(conn), Apply: apply, BatchSize: 7, Wait: -1}
	// The second consumer applies batches (Begin), writing at Flush.
	begin := func(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Event) (Batch, error) {
		return &flushAtEnd{tx: tx, begun: len(evs)}, nil
	}
	c2 := &Consumer{Feed: "producer", Pool: consumer, Client: eventsv1.NewEventFeedServiceClient(conn), Begin: begin, BatchSize: 11, Wait: 200 * time.Millisecond}
	// Step both consumers, racing, until every event is applied (the
	// frontier may lag while writers, or other tests, hold transactions).
	count := func() int {
		var n int
		if err := consumer.QueryRow(ctx, `SELECT count(*) FROM applied`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() < writers*perWriter && time.Now().Before(deadline) {
		var err1, err2 error
		var sw sync.WaitGroup
		sw.Add(2)
		go func() { defer sw.Done(); _, err1 = c1.Step(ctx) }()
		go func() { defer sw.Done(); _, err2 = c2.Step(ctx) }()
		sw.Wait()
		for _, err := range []error{err1, err2} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	// Nothing more arrives after everything was applied.
	for _, c := range []*Consumer{c1, c2} {
		if n, err := c.Step(ctx); err != nil || n != 0 {
			t.Fatalf("extra step read %d events, %v", n, err)
		}
	}
	var applied, distinct int
	if err := consumer.QueryRow(ctx, `SELECT count(*), count(DISTINCT case_number) FROM applied`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied != writers*perWriter || distinct != writers*perWriter {
		t.Fatalf("applied %d events (%d distinct), want %d", applied, distinct, writers*perWriter)
	}
	// A cursor lost (a restored backup, say) replays the feed: the batch's
	// events are marked processed in one statement, and none applies twice
	// (apply would fail on the primary key).
	if _, err := consumer.Exec(ctx, `UPDATE feed_cursors SET cursor = '' WHERE feed = 'producer'`); err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for {
		n, err := c1.Step(ctx)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if n == 0 {
			break
		}
		replayed += n
	}
	if replayed != writers*perWriter || count() != writers*perWriter {
		t.Fatalf("replayed %d events, %d applied; want %d and %d", replayed, count(), writers*perWriter, writers*perWriter)
	}
}

// flushAtEnd is a Batch that writes its events into applied at Flush.
type flushAtEnd struct {
	tx        pgx.Tx
	begun     int
	positions []int64
	cases     []string
}

func (b *flushAtEnd) Apply(_ context.Context, ev *eventsv1.Event) error {
	b.positions, b.cases = append(b.positions, ev.GetPosition()), append(b.cases, ev.GetCaseNumber())
	return nil
}

func (b *flushAtEnd) Flush(ctx context.Context) error {
	if len(b.positions) != b.begun {
		return fmt.Errorf("begun with %d events, applied %d", b.begun, len(b.positions))
	}
	_, err := b.tx.Exec(ctx, `INSERT INTO applied (position, case_number) SELECT * FROM unnest($1::bigint[], $2::text[])`, b.positions, b.cases)
	return err // a duplicate would fail the primary key and the test
}

// TestLongPoll: a reader that is up to date waits for the next event and
// is answered when a transaction that appended one commits (InTx or
// InPipeline), also when the event is first hidden behind an older open
// transaction; with nothing new it waits max_wait, and a stopping server
// answers at once.
func TestLongPoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testDB.NewDatabase(t)
	internal, _ := auth.FromContext(authtest.Service(t))
	stopping := make(chan struct{})
	srv := &FeedServer{Pool: pool, Stopping: stopping}
	cursor := ""
	// list reads after cursor, waiting up to wait, and moves the cursor.
	list := func(wait time.Duration) ([]*eventsv1.Event, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := srv.ListEvents(auth.WithCaller(ctx, internal), &eventsv1.ListEventsRequest{AfterCursor: cursor, MaxWait: durationpb.New(wait)})
		if err != nil {
			t.Fatal(err)
		}
		if evs := resp.GetEvents(); len(evs) > 0 {
			cursor = evs[len(evs)-1].GetCursor()
		}
		return resp.GetEvents(), time.Since(start)
	}
	// later runs write after the reader has started waiting.
	later := func(write func()) {
		go func() {
			time.Sleep(100 * time.Millisecond)
			write()
		}()
	}
	const long = 20 * time.Second

	if evs, took := list(300 * time.Millisecond); len(evs) != 0 || took < 250*time.Millisecond {
		t.Fatalf("an empty feed answered %d events after %s, want none after max_wait", len(evs), took)
	}
	for _, c := range []struct {
		name string
		in   func(context.Context, *pgxpool.Pool, func(pgx.Tx) error) error
	}{{"InTx", pgdb.InTx}, {"InPipeline", pgdb.InPipeline}} {
		later(func() {
			if err := c.in(ctx, pool, func(tx pgx.Tx) error { appendEvent(t, ctx, tx, "330421-2026-000001"); return nil }); err != nil {
				t.Error(err)
			}
		})
		if evs, took := list(long); len(evs) != 1 || took >= long/2 {
			t.Fatalf("%s: %d events after %s, want the one appended meanwhile, at once", c.name, len(evs), took)
		}
	}

	// Hidden: old takes its transaction id first; the event committed
	// meanwhile wakes the reader but is not readable until old ends.
	old, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	later(func() {
		if err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error { appendEvent(t, ctx, tx, "330421-2026-000003"); return nil }); err != nil {
			t.Error(err)
		}
		time.Sleep(300 * time.Millisecond)
		if err := old.Commit(ctx); err != nil { // no event, so no wake: the reader's recheck finds it
			t.Error(err)
		}
	})
	if evs, took := list(long); len(evs) != 1 || evs[0].GetCaseNumber() != "330421-2026-000003" || took >= long/2 {
		t.Fatalf("behind an older transaction: %v after %s", evs, took)
	}

	later(func() { close(stopping) })
	if evs, took := list(long); len(evs) != 0 || took >= long/2 {
		t.Fatalf("a stopping server answered %d events after %s, want none at once", len(evs), took)
	}
}

func TestFeedIsForServicesOnly(t *testing.T) {
	t.Parallel()
	a := auth.New(directory.Demo()).WithDemoTokens()
	township, _ := a.Authenticate("demo-dayun")
	ctx := auth.WithCaller(context.Background(), township)
	_, err := (&FeedServer{}).ListEvents(ctx, &eventsv1.ListEventsRequest{})
	if rpcerr.Code(err) != codes.PermissionDenied {
		t.Fatalf("township read the feed: %v", err)
	}
}
