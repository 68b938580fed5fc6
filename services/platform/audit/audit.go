// Package audit writes and checks a service's audit log (platform migrations
// 000002–000004): an append-only, hash-chained record of who changed or
// read what. Each entry's hash is SHA-256 over the previous entry's hash in
// its chain and the entry's fields, each prefixed by its length, so no field
// can bleed into the next; Verify recomputes every chain from its first
// entry. The log has Chains chains, so that concurrent transactions do not
// wait for each other's commits (see migration 000004).
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// Entry is one audited act. It never holds identity: the detail names
// fields and counts, not values.
type Entry struct {
	Seq             int64 // the log's order (for listing)
	Chain           int16 // the chain it is in
	ChainSeq        int64 // its position in the chain (0: written before chains; then Seq)
	At              time.Time
	Office, Role    string
	Account         string // the signed-in account, "" for static tokens and jobs
	Action          string // e.g. "case.register", "identity.read"
	CaseNumber      string
	RequestID, Peer string
	Detail          string
	PrevHash, Hash  []byte
}

// Actions.
const (
	Register     = "case.register"
	Correct      = "case.correct"
	LinkRepeat   = "case.link_repeat"
	UnlinkRepeat = "case.unlink_repeat"
	Attach       = "attachment.create"
	ReadIdentity = "identity.read"
	// LookupIdentity: cases looked up by a petitioner's ID or phone number.
	LookupIdentity = "identity.lookup"
	ReadFile       = "attachment.read"
	Anonymise      = "case.anonymise"
	Move           = "case.move"
	Schedule       = "schedule.change"  // receptions, applications, appointments, the calendar
	Directory      = "directory.change" // an office created or changed
)

// FromCall fills who, when and from where from a call's context: the
// authenticated caller, the request id (field, Idempotency-Key or
// x-request-id) and the client address the gateway forwarded (else the
// gRPC peer).
func FromCall(ctx context.Context, action, caseNumber, requestID, detail string) Entry {
	e := Entry{At: time.Now().UTC().Truncate(time.Microsecond), Action: action, CaseNumber: caseNumber, RequestID: requestID, Detail: detail}
	if c, ok := auth.FromContext(ctx); ok {
		e.Office, e.Role, e.Account = c.Office.ID, c.Role, c.Account
	}
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if e.RequestID == "" {
		e.RequestID = first("idempotency-key")
	}
	if e.RequestID == "" {
		e.RequestID = first("x-request-id")
	}
	if f := first("x-forwarded-for"); f != "" {
		e.Peer = strings.TrimSpace(strings.Split(f, ",")[0])
	} else if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		e.Peer = p.Addr.String()
	}
	return e
}

// hash is the entry's chain hash over prev. The account, added later, is
// hashed only when set, so the entries written before it verify as they
// were.
func hash(prev []byte, e *Entry) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [binary.MaxVarintLen64]byte
	fields := []string{
		strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339Nano), e.Office, e.Role, e.Action,
		e.CaseNumber, e.RequestID, e.Peer, e.Detail,
	}
	if e.Account != "" {
		fields = append(fields, "account", e.Account)
	}
	if e.ChainSeq != 0 {
		fields = append(fields, "chain", strconv.Itoa(int(e.Chain)), strconv.FormatInt(e.ChainSeq, 10))
	}
	for _, f := range fields {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// Chains is how many hash chains the log has.
const Chains = 8

// nextChain is the chain the process's next new connection appends to.
var nextChain atomic.Uint32

// chainOf is the chain tx's connection appends to: each connection is
// given one when it first appends, in turn, and keeps it. A connection
// runs one transaction at a time, so while a process has no more
// connections than chains (pgxpool's default is max(4, CPUs); beyond eight
// some connections share a chain) no two of its transactions lock the
// same head. Picked at random, as before, each of
// four concurrent transactions met another on its head one time in three,
// and waited for that one's commit and its flush.
func chainOf(tx pgx.Tx) int16 {
	data := tx.Conn().PgConn().CustomData()
	if c, ok := data[chainKey].(int16); ok {
		return c
	}
	c := int16(nextChain.Add(1) % Chains)
	data[chainKey] = c
	return c
}

const chainKey = "tongban/audit.chain"

// Append adds entries to the log in tx (the transaction of the act they
// record, so an act and its record commit together), in the chain of tx's
// connection (chainOf), whose head it locks until tx ends.
func Append(ctx context.Context, tx pgx.Tx, entries ...Entry) error {
	if len(entries) == 0 {
		return nil
	}
	chain := chainOf(tx)
	var pos int64
	var prev []byte
	var seqs []int64
	if err := tx.QueryRow(ctx, `SELECT c.seq, c.hash, ARRAY(SELECT nextval('audit_seq') FROM generate_series(1, $2::int))
		FROM audit_chains c WHERE c.chain = $1 FOR UPDATE`, chain, len(entries)).Scan(&pos, &prev, &seqs); err != nil {
		return fmt.Errorf("audit: head: %w", err)
	}
	var (
		seq, chainSeq                                                      = make([]int64, len(entries)), make([]int64, len(entries))
		at                                                                 = make([]time.Time, len(entries))
		office, role, account, action, caseNumber, requestID, peer, detail = make([]string, len(entries)), make([]string, len(entries)), make([]string, len(entries)), make([]string, len(entries)), make([]string, len(entries)), make([]string, len(entries)), make([]string, len(entries)), make([]string, len(entries))
		prevHash, hashes                                                   = make([][]byte, len(entries)), make([][]byte, len(entries))
		chains                                                             = make([]int16, len(entries))
	)
	for i := range entries {
		e := &entries[i]
		pos++
		e.Seq, e.Chain, e.ChainSeq, e.PrevHash = seqs[i], chain, pos, prev
		if e.At.IsZero() {
			e.At = time.Now().UTC()
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.Hash = hash(prev, e)
		prev = e.Hash
		seq[i], at[i], office[i], role[i], account[i], action[i] = e.Seq, e.At, e.Office, e.Role, e.Account, e.Action
		caseNumber[i], requestID[i], peer[i], detail[i] = e.CaseNumber, e.RequestID, e.Peer, e.Detail
		prevHash[i], hashes[i], chains[i], chainSeq[i] = e.PrevHash, e.Hash, e.Chain, e.ChainSeq
	}
	// The entries and the head in one round trip; in a pgdb.Pipeline, with
	// the transaction's next one.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO audit_log (seq, at, office, role, account, action, case_number, request_id, peer, detail, prev_hash, hash, chain, chain_seq)
		SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::bytea[], $12::bytea[], $13::smallint[], $14::bigint[])`,
		seq, at, office, role, account, action, caseNumber, requestID, peer, detail, prevHash, hashes, chains, chainSeq)
	b.Queue(`UPDATE audit_chains SET seq = $2, hash = $3 WHERE chain = $1`, chain, pos, prev)
	if err := pgdb.LaterBatch(ctx, tx, b); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}

const columns = `seq, at, office, role, account, action, case_number, request_id, peer, detail, prev_hash, hash, chain, coalesce(chain_seq, 0)`

func scan(rows pgx.Rows) ([]Entry, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		err := r.Scan(&e.Seq, &e.At, &e.Office, &e.Role, &e.Account, &e.Action, &e.CaseNumber, &e.RequestID, &e.Peer, &e.Detail, &e.PrevHash, &e.Hash, &e.Chain, &e.ChainSeq)
		return e, err
	})
}

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Filter selects entries of List.
type Filter struct {
	CaseNumber, Office string
	// BeforeSeq lists the entries older than this sequence number (0:
	// from the newest).
	BeforeSeq int64
	Limit     int
}

// List returns entries, newest first.
func List(ctx context.Context, q Querier, f Filter) ([]Entry, error) {
	before := f.BeforeSeq
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := q.Query(ctx, `SELECT `+columns+` FROM audit_log
		WHERE seq < $1 AND ($2 = '' OR case_number = $2) AND ($3 = '' OR office = $3) ORDER BY seq DESC LIMIT $4`,
		before, f.CaseNumber, f.Office, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("audit.List: %w", err)
	}
	return scan(rows)
}

// ErrBroken says the chain does not verify.
var ErrBroken = errors.New("audit log chain broken")

// Verify recomputes every chain from its first entry to its head and
// reports how many entries it checked; a changed, removed or inserted entry
// gives ErrBroken naming where.
func Verify(ctx context.Context, q Querier) (int64, error) {
	rows, err := q.Query(ctx, `SELECT chain, seq, hash FROM audit_chains ORDER BY chain`)
	if err != nil {
		return 0, fmt.Errorf("audit.Verify: heads: %w", err)
	}
	type head struct {
		chain int16
		seq   int64
		hash  []byte
	}
	heads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (head, error) {
		var h head
		err := r.Scan(&h.chain, &h.seq, &h.hash)
		return h, err
	})
	if err != nil {
		return 0, fmt.Errorf("audit.Verify: heads: %w", err)
	}
	var total int64
	for _, h := range heads {
		n, err := verifyChain(ctx, q, h.chain, h.seq, h.hash)
		total += n
		if err != nil {
			return total, err
		}
	}
	var stray int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE chain <> ALL ($1)`, chainIDs(len(heads))).Scan(&stray); err != nil {
		return total, fmt.Errorf("audit.Verify: %w", err)
	}
	if stray > 0 {
		return total, fmt.Errorf("%w: %d entries are in no chain", ErrBroken, stray)
	}
	return total, nil
}

func chainIDs(n int) []int16 {
	ids := make([]int16, n)
	for i := range ids {
		ids[i] = int16(i)
	}
	return ids
}

// verifyChain recomputes one chain up to its head (position headSeq).
func verifyChain(ctx context.Context, q Querier, chain int16, headSeq int64, headHash []byte) (int64, error) {
	var (
		prev     []byte
		pos      int64
		lastSeq  int64
		position = func(e *Entry) int64 {
			if e.ChainSeq != 0 {
				return e.ChainSeq
			}
			return e.Seq
		}
	)
	for {
		rows, err := q.Query(ctx, `SELECT `+columns+` FROM audit_log WHERE chain = $1 AND coalesce(chain_seq, seq) > $2
			ORDER BY coalesce(chain_seq, seq) LIMIT 10000`, chain, pos)
		if err != nil {
			return pos, fmt.Errorf("audit.Verify: %w", err)
		}
		batch, err := scan(rows)
		if err != nil {
			return pos, fmt.Errorf("audit.Verify: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		for i := range batch {
			e := &batch[i]
			switch {
			case position(e) != pos+1:
				return pos, fmt.Errorf("%w: chain %d: the entry after entry %d is missing (next is entry %d)", ErrBroken, chain, lastSeq, e.Seq)
			case !bytes.Equal(e.PrevHash, prev):
				return pos, fmt.Errorf("%w: entry %d does not follow entry %d", ErrBroken, e.Seq, lastSeq)
			case !bytes.Equal(e.Hash, hash(prev, e)):
				return pos, fmt.Errorf("%w: entry %d was changed", ErrBroken, e.Seq)
			}
			pos, prev, lastSeq = position(e), e.Hash, e.Seq
		}
	}
	if pos != headSeq || !bytes.Equal(prev, headHash) {
		return pos, fmt.Errorf("%w: chain %d: the log ends at its entry %d (%s…) but its head says %d (%s…)", ErrBroken, chain, pos, short(prev), headSeq, short(headHash))
	}
	return pos, nil
}

func short(b []byte) string {
	s := hex.EncodeToString(b)
	return s[:min(len(s), 12)]
}
