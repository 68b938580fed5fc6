package audit_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/devkit/pgtest"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/pgdb"
)

var testDB *pgtest.Instance

func TestMain(m *testing.M) {
	testDB = pgtest.MustStart("audited", pgdb.Migrations{}) // the platform tables only
	code := m.Run()
	testDB.MustClose()
	os.Exit(code)
}

func appendN(t *testing.T, pool *pgxpool.Pool, n int, office string) {
	t.Helper()
	for i := range n {
		account := "" // every other entry by a static token (entries from before accounts had none)
		if i%2 == 0 {
			account = "wang.fang"
		}
		err := pgdb.InTx(context.Background(), pool, func(tx pgx.Tx) error {
			return audit.Append(context.Background(), tx, audit.Entry{
				Office: office, Role: "clerk", Account: account, Action: audit.ReadIdentity, CaseNumber: "330421-2026-000001",
				RequestID: "r" + string(rune('a'+i%26)), Peer: "127.0.0.1",
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestChain appends from concurrent writers, verifies, lists, and then
// shows that each way of tampering is caught.
func TestChain(t *testing.T) {
	ctx := context.Background()
	pool := testDB.NewDatabase(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			appendN(t, pool, 25, []string{"330421.xfj", "330421102", "330421103", "330421.zjj"}[w])
		}()
	}
	wg.Wait()
	if n, err := audit.Verify(ctx, pool); err != nil || n != 100 {
		t.Fatalf("verify: %d, %v", n, err)
	}
	// Concurrent transactions spread over the chains, so none waits for
	// another's commit; the log's order (seq) stays one sequence.
	var chains, distinctSeq int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT chain), count(DISTINCT seq) FROM audit_log`).Scan(&chains, &distinctSeq); err != nil || chains < 2 || distinctSeq != 100 {
		t.Errorf("%d chains, %d distinct seq (%v); want several chains and 100", chains, distinctSeq, err)
	}
	page, err := audit.List(ctx, pool, audit.Filter{Office: "330421102", Limit: 10})
	if err != nil || len(page) != 10 || page[0].Office != "330421102" || page[0].Seq < page[9].Seq {
		t.Fatalf("list: %v, %v", page, err)
	}

	// The log refuses changes, removals and truncation.
	for _, q := range []string{`UPDATE audit_log SET office = 'x' WHERE seq = 5`, `DELETE FROM audit_log WHERE seq = 5`, `TRUNCATE audit_log`} {
		if _, err := pool.Exec(ctx, q); err == nil {
			t.Errorf("%s: allowed", q)
		}
	}
	// Someone who switches the guard off is still caught by the chain
	// (each tampering on a log of its own).
	tamper := func(q string) error {
		pool := testDB.NewDatabase(t)
		appendN(t, pool, 100, "330421.xfj")
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		for _, s := range []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`, q, `ALTER TABLE audit_log ENABLE TRIGGER USER`} {
			if _, err := conn.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		_, err = audit.Verify(ctx, pool)
		return err
	}
	for _, c := range []struct{ q, want string }{
		{`UPDATE audit_log SET office = '330421105' WHERE seq = 40`, "entry 40 was changed"},
		{`UPDATE audit_log SET account = 'li.na' WHERE seq = 42`, "entry 42 was changed"}, // blamed on someone
		{`UPDATE audit_log SET account = '' WHERE seq = 41`, "entry 41 was changed"},      // made anonymous
		{`DELETE FROM audit_log WHERE seq = 30`, "is missing|the log ends at"},            // inside its chain, or its chain's last
		{`DELETE FROM audit_log WHERE seq > 90`, "the log ends at"},
		{`UPDATE audit_log SET chain = 9 WHERE seq = 50`, "is missing|the log ends at"}, // moved out of its chain
	} {
		err := tamper(c.q)
		if !errors.Is(err, audit.ErrBroken) || !regexp.MustCompile(c.want).MatchString(err.Error()) {
			t.Errorf("%s: verify says %v, want %q", c.q, err, c.want)
		}
	}
}

// TestChainPerConnection: concurrent transactions on a process's
// connections append to different chains (none waits for another's head),
// and a connection keeps its chain.
func TestChainPerConnection(t *testing.T) {
	ctx := context.Background()
	pool := testDB.NewDatabase(t)
	appendOn := func(conn *pgxpool.Conn) int16 {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		e := audit.Entry{Office: "330421102", Role: "clerk", Action: audit.ReadIdentity, CaseNumber: "330421-2026-000001"}
		if err := audit.Append(ctx, tx, e); err != nil {
			t.Fatal(err)
		}
		var chain int16
		if err := tx.QueryRow(ctx, `SELECT chain FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&chain); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return chain
	}
	conns := make([]*pgxpool.Conn, min(audit.Chains, int(pool.Config().MaxConns)))
	seen := map[int16]int{}
	for i := range conns {
		c, err := pool.Acquire(ctx) // all held at once: distinct connections
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		conns[i] = c
		chain := appendOn(c)
		if j, dup := seen[chain]; dup {
			t.Fatalf("connections %d and %d both append to chain %d", j, i, chain)
		}
		seen[chain] = i
	}
	for i, c := range conns {
		first := -1
		for chain, j := range seen {
			if j == i {
				first = int(chain)
			}
		}
		if again := appendOn(c); int(again) != first {
			t.Errorf("connection %d appended to chain %d, then %d", i, first, again)
		}
	}
	if n, err := audit.Verify(ctx, conns[0]); err != nil || n != int64(2*len(conns)) { // the pool's every connection is held
		t.Fatalf("verify: %d, %v", n, err)
	}
}
