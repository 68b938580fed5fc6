package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/logging"
)

func newSigningKey(t *testing.T, kid string) audit.SigningKey {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed) //nolint:errcheck // never fails
	k, err := audit.ParseSigningKey(kid + ":" + base64.StdEncoding.EncodeToString(seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicKeys(t *testing.T, keys ...audit.SigningKey) map[string]ed25519.PublicKey {
	t.Helper()
	var s []string
	for _, k := range keys {
		s = append(s, k.PublicKey())
	}
	pub, err := audit.ParsePublicKeys(strings.Join(s, ","))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// appendOn appends n entries, one transaction each, on conn (so to its
// chain).
func appendOn(t *testing.T, conn *pgxpool.Conn, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			return audit.Append(ctx, tx, audit.Entry{
				Office: "330421102", Role: "clerk", Account: "wang.fang", Action: audit.ReadIdentity,
				CaseNumber: "330421-2026-00000" + strconv.Itoa(i), Detail: "fields=phone",
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// clock is a HeadSigner's Now: a minute later at each call.
func clock(start time.Time) func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return start.Add(time.Duration(n-1) * time.Minute)
	}
}

var t0 = time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)

type fixture struct {
	pool    *pgxpool.Pool
	signer  *audit.HeadSigner
	dir     string // the schema's folder
	records []audit.SignedHeads
	keys    map[string]ed25519.PublicKey
	// chain has entries before the first record and more before the
	// second, at positions head1 and head2.
	chain        int16
	head1, head2 int64
}

// signedLog appends on three connections (three chains), signs the heads,
// appends more, and signs again.
func signedLog(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{pool: testDB.NewDatabase(t)}
	key := newSigningKey(t, "audit-2026")
	f.keys = publicKeys(t, key)
	f.signer = &audit.HeadSigner{Pool: f.pool, Service: "audited", Key: key, Dir: t.TempDir(), Now: clock(t0)}
	f.dir = filepath.Join(f.signer.Dir, "audited")
	conns := make([]*pgxpool.Conn, 3)
	for i := range conns {
		c, err := f.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		conns[i] = c
	}
	for round := range 2 {
		for _, c := range conns {
			appendOn(t, c, 4)
		}
		path, err := f.signer.SignOnce(ctx)
		if err != nil || path == "" {
			t.Fatalf("sign %d: %q, %v", round, path, err)
		}
	}
	var err error
	if f.records, err = audit.LoadSigned(f.dir); err != nil || len(f.records) != 2 {
		t.Fatalf("load: %d records, %v", len(f.records), err)
	}
	for i, h := range f.records[0].Heads {
		if h2 := f.records[1].Heads[i]; h.Seq > 1 && h2.Seq > h.Seq {
			f.chain, f.head1, f.head2 = h.Chain, h.Seq, h2.Seq
			return f
		}
	}
	t.Fatalf("no chain grew between the records: %+v", f.records)
	return nil
}

// ownerHash is the entry hash as someone reading audit.go recomputes it.
func ownerHash(prev []byte, fields []string) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [binary.MaxVarintLen64]byte
	for _, f := range fields {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// asOwner runs stmts with the append-only guard switched off.
func asOwner(t *testing.T, pool *pgxpool.Pool, fn func(conn *pgxpool.Conn)) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER USER`); err != nil {
		t.Fatal(err)
	}
	fn(conn)
	if _, err := conn.Exec(ctx, `ALTER TABLE audit_log ENABLE TRIGGER USER`); err != nil {
		t.Fatal(err)
	}
}

// rewrite changes the detail of the entry at pos of chain, then recomputes
// the hashes of it and every later entry of the chain and the chain's
// head, so that the chain is consistent again.
func rewrite(t *testing.T, pool *pgxpool.Pool, chain int16, pos int64) {
	t.Helper()
	ctx := context.Background()
	asOwner(t, pool, func(conn *pgxpool.Conn) {
		if _, err := conn.Exec(ctx, `UPDATE audit_log SET detail = 'fields=none' WHERE chain = $1 AND chain_seq = $2`, chain, pos); err != nil {
			t.Fatal(err)
		}
		prev := []byte{}
		if err := conn.QueryRow(ctx, `SELECT coalesce((SELECT hash FROM audit_log WHERE chain = $1 AND chain_seq = $2), '\x'::bytea)`, chain, pos-1).Scan(&prev); err != nil {
			t.Fatal(err)
		}
		type row struct {
			seq    int64
			fields []string
		}
		rows, _ := conn.Query(ctx, `SELECT seq, at, office, role, action, case_number, request_id, peer, detail, account, chain_seq
			FROM audit_log WHERE chain = $1 AND chain_seq >= $2 ORDER BY chain_seq`, chain, pos)
		later, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var (
				seq, chainSeq                                                      int64
				at                                                                 time.Time
				office, role, action, caseNumber, requestID, peer, detail, account string
			)
			err := r.Scan(&seq, &at, &office, &role, &action, &caseNumber, &requestID, &peer, &detail, &account, &chainSeq)
			f := []string{strconv.FormatInt(seq, 10), at.UTC().Format(time.RFC3339Nano), office, role, action, caseNumber, requestID, peer, detail}
			if account != "" {
				f = append(f, "account", account)
			}
			f = append(f, "chain", strconv.Itoa(int(chain)), strconv.FormatInt(chainSeq, 10))
			return row{seq, f}, err
		})
		if err != nil || len(later) == 0 {
			t.Fatalf("rewrite: %d entries, %v", len(later), err)
		}
		for _, r := range later {
			h := ownerHash(prev, r.fields)
			if _, err := conn.Exec(ctx, `UPDATE audit_log SET prev_hash = $2, hash = $3 WHERE seq = $1`, r.seq, prev, h); err != nil {
				t.Fatal(err)
			}
			prev = h
		}
		if _, err := conn.Exec(ctx, `UPDATE audit_chains SET hash = $2 WHERE chain = $1`, chain, prev); err != nil {
			t.Fatal(err)
		}
	})
}

// cutTail removes the entries of chain after position keep and moves its
// head back to the entry at keep.
func cutTail(t *testing.T, pool *pgxpool.Pool, chain int16, keep int64) {
	t.Helper()
	ctx := context.Background()
	asOwner(t, pool, func(conn *pgxpool.Conn) {
		for _, q := range []string{
			`DELETE FROM audit_log WHERE chain = $1 AND chain_seq > $2`,
			`UPDATE audit_chains SET seq = $2, hash = coalesce((SELECT hash FROM audit_log WHERE chain = $1 AND chain_seq = $2), '\x'::bytea) WHERE chain = $1`,
		} {
			if _, err := conn.Exec(ctx, q, chain, keep); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}

func seqAt(t *testing.T, pool *pgxpool.Pool, chain int16, pos int64) int64 {
	t.Helper()
	var seq int64
	if err := pool.QueryRow(context.Background(), `SELECT seq FROM audit_log WHERE chain = $1 AND chain_seq = $2`, chain, pos).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestVerifySigned: an untouched log matches both records; a full rewrite
// of a chain (which Verify cannot see) and a cut tail are caught at the
// first signed head after the change, with the interval it lies in.
func TestVerifySigned(t *testing.T) {
	ctx := context.Background()
	type want struct {
		record   int // the first record that no longer matches
		position func(f *fixture) int64
		after    func(f *fixture) int64 // the still matching head before it (0: none)
		missing  bool
	}
	head1 := func(f *fixture) int64 { return f.head1 }
	head2 := func(f *fixture) int64 { return f.head2 }
	none := func(*fixture) int64 { return 0 }
	tests := []struct {
		name   string
		tamper func(t *testing.T, f *fixture)
		want   *want // nil: matches
	}{
		{name: "untouched", tamper: func(*testing.T, *fixture) {}},
		{name: "rewrite_from_first_entry", tamper: func(t *testing.T, f *fixture) { rewrite(t, f.pool, f.chain, 1) },
			want: &want{record: 0, position: head1, after: none}},
		{name: "rewrite_from_first_signed_head", tamper: func(t *testing.T, f *fixture) { rewrite(t, f.pool, f.chain, f.head1) },
			want: &want{record: 0, position: head1, after: none}},
		{name: "rewrite_after_first_signed_head", tamper: func(t *testing.T, f *fixture) { rewrite(t, f.pool, f.chain, f.head1+1) },
			want: &want{record: 1, position: head2, after: head1}},
		{name: "rewrite_last_entry", tamper: func(t *testing.T, f *fixture) { rewrite(t, f.pool, f.chain, f.head2) },
			want: &want{record: 1, position: head2, after: head1}},
		{name: "tail_cut_before_first_signed_head", tamper: func(t *testing.T, f *fixture) { cutTail(t, f.pool, f.chain, f.head1-1) },
			want: &want{record: 0, position: head1, after: none, missing: true}},
		{name: "tail_cut_after_first_signed_head", tamper: func(t *testing.T, f *fixture) { cutTail(t, f.pool, f.chain, f.head1) },
			want: &want{record: 1, position: head2, after: head1, missing: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := signedLog(t)
			tc.tamper(t, f)
			if _, err := audit.Verify(ctx, f.pool); err != nil {
				t.Fatalf("Verify (the chain recomputed or cut consistently): %v", err)
			}
			rep, err := audit.VerifySigned(ctx, f.pool, f.records, f.keys)
			if rep.Records != 2 || !rep.Latest.Equal(t0.Add(time.Minute)) {
				t.Errorf("report: %d records, latest %v", rep.Records, rep.Latest)
			}
			if tc.want == nil {
				if err != nil || len(rep.Broken) != 0 || rep.Heads < 6 {
					t.Fatalf("VerifySigned: %+v, %v", rep, err)
				}
				return
			}
			if !errors.Is(err, audit.ErrBroken) || len(rep.Broken) != 1 {
				t.Fatalf("VerifySigned: %+v, %v; want the chain broken", rep, err)
			}
			t.Log(err)
			m, pos, after := rep.Broken[0], tc.want.position(f), tc.want.after(f)
			rec := f.records[tc.want.record]
			if m.Chain != f.chain || m.Position != pos || m.Missing != tc.want.missing || !m.SignedAt.Equal(rec.SignedAt) ||
				m.File != rec.File || m.After != after {
				t.Errorf("broken at %+v; want chain %d position %d (missing %v) of %s, after %d", m, f.chain, pos, tc.want.missing, rec.File, after)
			}
			if after > 0 && !m.AfterSignedAt.Equal(f.records[0].SignedAt) {
				t.Errorf("after signed at %v, want %v", m.AfterSignedAt, f.records[0].SignedAt)
			}
			wantMsg := fmt.Sprintf("chain %d no longer reaches position %d", f.chain, pos)
			if !tc.want.missing {
				if wantSeq := seqAt(t, f.pool, f.chain, pos); m.Seq != wantSeq {
					t.Errorf("entry %d, want %d", m.Seq, wantSeq)
				}
				wantMsg = fmt.Sprintf("chain %d: entry %d (position %d) no longer has the hash signed", f.chain, m.Seq, pos)
			}
			if !strings.Contains(err.Error(), wantMsg) || !strings.Contains(err.Error(), filepath.Base(rec.File)) {
				t.Errorf("error %q; want it to say %q and name %s", err, wantMsg, filepath.Base(rec.File))
			}
		})
	}
}

// TestVerifySignedRefuses records that were changed or signed by a key not
// given.
func TestVerifySignedRefuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, f *fixture, r *audit.SignedHeads)
		want   string
	}{
		{name: "signature", change: func(_ *testing.T, _ *fixture, r *audit.SignedHeads) { r.Signature[3] ^= 1 }, want: "bad signature"},
		{name: "head_hash", change: func(_ *testing.T, f *fixture, r *audit.SignedHeads) { headOf(r, f.chain).Hash[0] ^= 1 }, want: "bad signature"},
		{name: "head_position", change: func(_ *testing.T, f *fixture, r *audit.SignedHeads) { headOf(r, f.chain).Seq-- }, want: "bad signature"},
		{name: "signed_at", change: func(_ *testing.T, _ *fixture, r *audit.SignedHeads) { r.SignedAt = r.SignedAt.Add(time.Hour) }, want: "bad signature"},
		{name: "service", change: func(_ *testing.T, _ *fixture, r *audit.SignedHeads) { r.Service = "intake" }, want: "bad signature"},
		{name: "head_dropped", change: func(_ *testing.T, _ *fixture, r *audit.SignedHeads) { r.Heads = r.Heads[1:] }, want: "bad signature"},
		{name: "unknown_key", change: func(t *testing.T, f *fixture, r *audit.SignedHeads) {
			resign(t, f.pool, r, newSigningKey(t, "stolen"))
		}, want: `unknown key "stolen"`},
		{name: "known_kid_other_key", change: func(t *testing.T, f *fixture, r *audit.SignedHeads) {
			resign(t, f.pool, r, newSigningKey(t, r.KeyID))
		}, want: "bad signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := signedLog(t)
			r := f.records[1]
			tc.change(t, f, &r)
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(r.File, b, 0o644); err != nil { // as someone with the directory would
				t.Fatal(err)
			}
			records, err := audit.LoadSigned(f.dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = audit.VerifySigned(ctx, f.pool, records, f.keys)
			if !errors.Is(err, audit.ErrSignature) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), r.File) {
				t.Errorf("VerifySigned: %v; want ErrSignature saying %q and naming %s", err, tc.want, r.File)
			}
		})
	}
}

// resign signs r anew with key, as someone without the service's key
// could (the log's heads are still r's).
func resign(t *testing.T, pool *pgxpool.Pool, r *audit.SignedHeads, key audit.SigningKey) {
	t.Helper()
	s := &audit.HeadSigner{Pool: pool, Service: r.Service, Schema: r.Schema, Key: key, Dir: t.TempDir(), Now: func() time.Time { return r.SignedAt }}
	path, err := s.SignOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := audit.LoadSigned(filepath.Dir(path))
	if err != nil || len(got) != 1 {
		t.Fatalf("load: %v, %v", got, err)
	}
	file := r.File
	*r = got[0]
	r.File = file
}

func headOf(r *audit.SignedHeads, chain int16) *audit.Head {
	for i := range r.Heads {
		if r.Heads[i].Chain == chain {
			return &r.Heads[i]
		}
	}
	panic("no head")
}

// TestHeadSigner: records only when the heads moved, never over an
// existing one; Run signs at start and on ticks, and survives failures.
func TestHeadSigner(t *testing.T) {
	ctx := context.Background()
	pool := testDB.NewDatabase(t)
	key := newSigningKey(t, "k1")
	at := t0
	s := &audit.HeadSigner{Pool: pool, Service: "intake", Schema: "audited", Key: key, Dir: t.TempDir(), Now: func() time.Time { return at }}
	first, err := s.SignOnce(ctx) // an empty log: written anyway
	if err != nil || filepath.Base(first) != "20261207T010203.000000000Z.json" || filepath.Base(filepath.Dir(first)) != "audited" {
		t.Fatalf("first record: %q, %v", first, err)
	}
	if again, err := s.SignOnce(ctx); err != nil || again != "" {
		t.Errorf("unchanged heads: wrote %q, %v", again, err)
	}
	before, _ := os.ReadFile(first)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendOn(t, conn, 2)
	conn.Release()
	if p, err := s.SignOnce(ctx); err == nil || p != "" { // same time, new heads
		t.Errorf("a record over %s: %q, %v", first, p, err)
	}
	if after, _ := os.ReadFile(first); !bytes.Equal(before, after) {
		t.Error("the first record was overwritten")
	}
	at = at.Add(time.Minute)
	second, err := s.SignOnce(ctx)
	if err != nil || second == "" {
		t.Fatalf("second record: %q, %v", second, err)
	}
	records, err := audit.LoadSigned(filepath.Dir(first))
	if err != nil || len(records) != 2 || records[0].File != first || records[1].File != second ||
		records[1].Service != "intake" || records[1].Subdir() != "audited" {
		t.Fatalf("load: %+v, %v", records, err)
	}
	if rep, err := audit.VerifySigned(ctx, pool, records, publicKeys(t, key)); err != nil || rep.Heads != 1 {
		t.Errorf("verify: %+v, %v", rep, err)
	}

	t.Run("run", func(t *testing.T) {
		dir := t.TempDir()
		var logs bytes.Buffer
		runCtx, cancel := context.WithTimeout(logging.WithLogger(ctx, logging.New(&logs, "info")), 200*time.Millisecond)
		defer cancel()
		s := &audit.HeadSigner{Pool: pool, Service: "audited", Key: key, Dir: dir, Every: 10 * time.Millisecond}
		if err := s.Run(runCtx); err != nil {
			t.Fatalf("run: %v", err)
		}
		if files, _ := os.ReadDir(filepath.Join(dir, "audited")); len(files) != 1 { // the heads did not move
			t.Errorf("%d files, want 1", len(files))
		}
		if !strings.Contains(logs.String(), "audit heads signed") {
			t.Errorf("logs: %s", logs.String())
		}
	})
	t.Run("run_survives_failures", func(t *testing.T) {
		notDir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(notDir, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		// Stopped once two ticks have failed (not after a fixed time: a
		// loaded machine may not tick twice in 100 ms), or after 30 s.
		logs := &lockedBuffer{}
		runCtx, cancel := context.WithTimeout(logging.WithLogger(ctx, logging.New(logs, "info")), 30*time.Second)
		defer cancel()
		go func() {
			for runCtx.Err() == nil && strings.Count(logs.String(), "audit heads not signed") < 2 {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
		}()
		s := &audit.HeadSigner{Pool: pool, Service: "audited", Key: key, Dir: notDir, Every: 10 * time.Millisecond}
		if err := s.Run(runCtx); err != nil {
			t.Fatalf("run: %v", err)
		}
		if n := strings.Count(logs.String(), "audit heads not signed"); n < 2 {
			t.Errorf("%d failures logged in 30 s, want one a tick: %s", n, logs.String())
		}
	})
	t.Run("run_misconfigured", func(t *testing.T) {
		for _, s := range []*audit.HeadSigner{
			{Pool: pool, Service: "audited", Dir: t.TempDir()},
			{Pool: pool, Service: "audited", Key: key},
			{Pool: pool, Service: "../x", Key: key, Dir: t.TempDir()},
			{Service: "audited", Key: key, Dir: t.TempDir()},
		} {
			if err := s.Run(ctx); err == nil {
				t.Errorf("%+v ran", s)
			}
		}
	})
}

func TestParseKeys(t *testing.T) {
	seed := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 31))
	for _, tc := range []struct {
		name, in string
		wantErr  bool
	}{
		{name: "ok", in: "audit-1:" + seed},
		{name: "spaces", in: " audit-1:" + seed + "\n"},
		{name: "no_kid", in: ":" + seed, wantErr: true},
		{name: "no_colon", in: seed, wantErr: true},
		{name: "short", in: "k:" + short, wantErr: true},
		{name: "not_base64", in: "k:!!", wantErr: true},
		{name: "two", in: "a:" + seed + ",b:" + seed, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := audit.ParseSigningKey(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSigningKey: %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), seed) {
					t.Errorf("the error shows the key: %v", err)
				}
				return
			}
			pub, err := audit.ParsePublicKeys(k.PublicKey() + ", other:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)))
			if err != nil || len(pub) != 2 || !bytes.Equal(pub["audit-1"], k.Private.Public().(ed25519.PublicKey)) {
				t.Errorf("ParsePublicKeys: %v, %v", pub, err)
			}
		})
	}
	for _, in := range []string{"", " , ", "a:" + seed + "x", "a:" + short} {
		if _, err := audit.ParsePublicKeys(in); err == nil {
			t.Errorf("ParsePublicKeys(%q) accepted", in)
		}
	}
}

// lockedBuffer is a log sink the test reads while the signer writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
