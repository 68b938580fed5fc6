package idempotency

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pgdb"
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
	if rpcerr.Code(err) != codes.InvalidArgument {
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

// TestChecked: the request_id field, else the Idempotency-Key header; both
// different is a violation of request_id naming both.
func TestChecked(t *testing.T) {
	for _, tc := range []struct {
		name, field, header, want, violation string
	}{
		{"neither", "", "", "", ""},
		{"the field", "r-1", "", "r-1", ""},
		{"the header", "", "h-1", "h-1", ""},
		{"both the same", "r-1", "r-1", "r-1", ""},
		{"both different", "r-1", "h-1", "r-1", `request_id: is "r-1" but the Idempotency-Key header is "h-1"`},
		{"too long", strings.Repeat("x", 129), "", strings.Repeat("x", 129), "request_id: must be at most 128 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.header != "" {
				ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("idempotency-key", tc.header))
			}
			var v fault.Violations
			got := Checked(ctx, tc.field, &v)
			err := v.Err()
			if got != tc.want || (tc.violation == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), strings.TrimPrefix(tc.violation, "request_id: ")) {
				t.Errorf("Checked = %q, %v; want %q, %q", got, err, tc.want, tc.violation)
			}
			if err != nil && !slices.Equal(rpcerr.Fields(err), []string{"request_id"}) {
				t.Errorf("fields %v, want request_id", rpcerr.Fields(err))
			}
		})
	}
}
