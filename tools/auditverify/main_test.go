package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

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

// TestRun checks a log with and without its signed heads, and one whose
// tail was cut consistently (so the chains alone verify).
func TestRun(t *testing.T) {
	ctx := context.Background()
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed) //nolint:errcheck // never fails
	key, err := audit.ParseSigningKey("audit-1:" + base64.StdEncoding.EncodeToString(seed))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := audit.ParsePublicKeys(key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		heads      bool // check against the signed heads
		tamper     func(t *testing.T, pool *pgxpool.Pool, dir string)
		wantBroken bool
		want       string // a regexp of the output
	}{
		{name: "chains_only", want: `(?s)audited +6 entries, chain verified.*checked only for internal consistency`},
		{name: "signed", heads: true, want: `audited +6 entries, chain verified\naudited +\d+ signed heads in 2 records match`},
		{name: "no_signed_heads", heads: true, tamper: func(t *testing.T, _ *pgxpool.Pool, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "audited")); err != nil {
				t.Fatal(err)
			}
		}, wantBroken: true, want: `NO SIGNED HEADS`},
		{name: "tail_cut", heads: true, tamper: func(t *testing.T, pool *pgxpool.Pool, _ string) { cutTail(t, pool, 1) },
			wantBroken: true, want: `chain verified\n.*CHANGED SINCE SIGNED.*\n.*chain \d+ no longer reaches position 3, signed 2026-12-07T01:02:03Z in 20261207T010203.000000000Z.json; the change lies from the chain.s first entry up to position 3`},
		{name: "tail_cut_chains_only", tamper: func(t *testing.T, pool *pgxpool.Pool, _ string) { cutTail(t, pool, 1) },
			want: `chain verified\n.*checked only for internal consistency`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := testDB.NewDatabaseURL(t)
			pool, err := pgdb.Open(ctx, url, "audited")
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
			s := &audit.HeadSigner{Pool: pool, Service: "audited", Key: key, Dir: t.TempDir(), Now: func() time.Time { return at }}
			for range 2 {
				appendN(t, pool, 3)
				if _, err := s.SignOnce(ctx); err != nil {
					t.Fatal(err)
				}
				at = at.Add(time.Minute)
			}
			if tc.tamper != nil {
				tc.tamper(t, pool, s.Dir)
			}
			o := options{url: url, schemas: []string{"audited"}, now: func() time.Time { return at }}
			if tc.heads {
				o.heads, o.keys = s.Dir, keys
			}
			var out bytes.Buffer
			broken, err := run(ctx, &out, o)
			if err != nil || broken != tc.wantBroken || !regexp.MustCompile(tc.want).MatchString(out.String()) {
				t.Errorf("run: broken %v, %v; want broken %v and output matching %q:\n%s", broken, err, tc.wantBroken, tc.want, out.String())
			}
		})
	}
}

// appendN appends n entries, on one connection (so to one chain).
func appendN(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for i := range n {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			return audit.Append(ctx, tx, audit.Entry{Office: "330421102", Role: "clerk", Action: audit.ReadIdentity, CaseNumber: fmt.Sprintf("330421-2026-%06d", i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// cutTail keeps the first keep entries of every chain and moves the heads
// back to them, as the database's owner could.
func cutTail(t *testing.T, pool *pgxpool.Pool, keep int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, q := range []string{
		`ALTER TABLE audit_log DISABLE TRIGGER USER`,
		`DELETE FROM audit_log WHERE chain_seq > $1`,
		`UPDATE audit_chains c SET seq = least(seq, $1), hash = coalesce((SELECT hash FROM audit_log l WHERE l.chain = c.chain AND l.chain_seq = least(c.seq, $1)), '\x'::bytea)`,
		`ALTER TABLE audit_log ENABLE TRIGGER USER`,
	} {
		args := []any{keep}
		if q[0] == 'A' {
			args = nil
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
