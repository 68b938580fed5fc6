// Package audit writes and checks a service's audit log (platform migration
// 000002): an append-only, hash-chained record of who changed or read what.
// Each entry's hash is SHA-256 over the previous entry's hash and the
// entry's fields, each prefixed by its length, so no field can bleed into
// the next; Verify recomputes the chain from the first entry.
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
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/tongban/tongban/services/platform/auth"
)

// Entry is one audited act. It never holds identity: the detail names
// fields and counts, not values.
type Entry struct {
	Seq             int64
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
	for _, f := range fields {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// Append adds entries to the log in tx (the transaction of the act they
// record, so an act and its record commit together). It locks the chain's
// head until tx ends.
func Append(ctx context.Context, tx pgx.Tx, entries ...Entry) error {
	if len(entries) == 0 {
		return nil
	}
	var seq int64
	var prev []byte
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head FOR UPDATE`).Scan(&seq, &prev); err != nil {
		return fmt.Errorf("audit: head: %w", err)
	}
	rows := make([][]any, len(entries))
	for i := range entries {
		e := &entries[i]
		seq++
		e.Seq, e.PrevHash = seq, prev
		if e.At.IsZero() {
			e.At = time.Now().UTC()
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.Hash = hash(prev, e)
		prev = e.Hash
		rows[i] = []any{e.Seq, e.At, e.Office, e.Role, e.Account, e.Action, e.CaseNumber, e.RequestID, e.Peer, e.Detail, e.PrevHash, e.Hash}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"},
		[]string{"seq", "at", "office", "role", "account", "action", "case_number", "request_id", "peer", "detail", "prev_hash", "hash"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2`, seq, prev); err != nil {
		return fmt.Errorf("audit: head: %w", err)
	}
	return nil
}

const columns = `seq, at, office, role, account, action, case_number, request_id, peer, detail, prev_hash, hash`

func scan(rows pgx.Rows) ([]Entry, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		err := r.Scan(&e.Seq, &e.At, &e.Office, &e.Role, &e.Account, &e.Action, &e.CaseNumber, &e.RequestID, &e.Peer, &e.Detail, &e.PrevHash, &e.Hash)
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

// Verify recomputes the chain from the first entry to the head and reports
// how many entries it checked; a changed, removed or inserted entry gives
// ErrBroken naming the first bad sequence number.
func Verify(ctx context.Context, q Querier) (int64, error) {
	var headSeq int64
	var headHash []byte
	if err := q.QueryRow(ctx, `SELECT seq, hash FROM audit_head`).Scan(&headSeq, &headHash); err != nil {
		return 0, fmt.Errorf("audit.Verify: head: %w", err)
	}
	var (
		prev []byte
		seq  int64
	)
	for {
		rows, err := q.Query(ctx, `SELECT `+columns+` FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 10000`, seq)
		if err != nil {
			return seq, fmt.Errorf("audit.Verify: %w", err)
		}
		batch, err := scan(rows)
		if err != nil {
			return seq, fmt.Errorf("audit.Verify: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		for i := range batch {
			e := &batch[i]
			switch {
			case e.Seq != seq+1:
				return seq, fmt.Errorf("%w: entry %d is missing (next is %d)", ErrBroken, seq+1, e.Seq)
			case !bytes.Equal(e.PrevHash, prev):
				return seq, fmt.Errorf("%w: entry %d does not follow entry %d", ErrBroken, e.Seq, seq)
			case !bytes.Equal(e.Hash, hash(prev, e)):
				return seq, fmt.Errorf("%w: entry %d was changed", ErrBroken, e.Seq)
			}
			seq, prev = e.Seq, e.Hash
		}
	}
	if seq != headSeq || !bytes.Equal(prev, headHash) {
		return seq, fmt.Errorf("%w: the log ends at %d (%s…) but its head says %d (%s…)", ErrBroken, seq, short(prev), headSeq, short(headHash))
	}
	return seq, nil
}

func short(b []byte) string {
	s := hex.EncodeToString(b)
	return s[:min(len(s), 12)]
}
