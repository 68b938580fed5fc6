package idempotency

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/pgtest"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStart("idemtest", pgdb.Migrations{})
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

// TestConcurrentRetries fires the same request ten times at once: the
// effect happens once and every caller gets the same response.
func TestConcurrentRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testDB.NewDatabase(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE effects (id serial PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	key := Key{Scope: "330421102", Method: "CreateCase", RequestID: "r-1"}
	req := wrapperspb.String("register this")
	var wg sync.WaitGroup
	results := make([]string, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := &wrapperspb.StringValue{}
			err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
				_, err := Do(ctx, tx, key, req, resp, func() error {
					var id int
					if err := tx.QueryRow(ctx, `INSERT INTO effects DEFAULT VALUES RETURNING id`).Scan(&id); err != nil {
						return err
					}
					resp.Value = "effect " + string(rune('0'+id))
					return nil
				})
				return err
			})
			if err != nil {
				t.Error(err)
			}
			results[i] = resp.GetValue()
		}()
	}
	wg.Wait()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM effects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d effects, want 1", n)
	}
	for i, r := range results {
		if r != results[0] || r == "" {
			t.Fatalf("result %d = %q, want %q for all", i, r, results[0])
		}
	}
}

func TestReuseWithDifferentRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testDB.NewDatabase(t)
	key := Key{Scope: "330421102", Method: "CreateCase", RequestID: "r-2"}
	run := func(req proto.Message) (bool, error) {
		var replayed bool
		err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
			var err error
			replayed, err = Do(ctx, tx, key, req, &wrapperspb.StringValue{}, func() error { return nil })
			return err
		})
		return replayed, err
	}
	if replayed, err := run(wrapperspb.String("a")); err != nil || replayed {
		t.Fatalf("first call: replayed=%v err=%v", replayed, err)
	}
	if replayed, err := run(wrapperspb.String("a")); err != nil || !replayed {
		t.Fatalf("retry: replayed=%v err=%v, want a replay", replayed, err)
	}
	_, err := run(wrapperspb.String("b"))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("different request: %v, want INVALID_ARGUMENT", err)
	}
	if r := rpcerr.Reason(err); r != "REQUEST_ID_REUSED" {
		t.Fatalf("reason = %q, want REQUEST_ID_REUSED", r)
	}
	// Another office may use the same id for its own request.
	key.Scope = "330421103"
	if replayed, err := run(wrapperspb.String("b")); err != nil || replayed {
		t.Fatalf("other scope: replayed=%v err=%v", replayed, err)
	}
}
