// Package idempotency makes mutating RPCs safe to retry (AIP-155). The
// result of a call with a request id is stored in the same transaction as
// its effect; a retry with the same id and the same request gets that
// result back and changes nothing; the same id with a different request is
// refused.
package idempotency

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// MaxLen is the longest request id accepted.
const MaxLen = 128

// RequestID returns the request's id: the request_id field when set,
// otherwise the Idempotency-Key header the gateway forwards as metadata.
func RequestID(ctx context.Context, field string) string {
	if field != "" {
		return field
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("idempotency-key"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Violations is where Checked reports a bad id.
type Violations interface {
	Add(field, description string)
}

// Check reports an id longer than MaxLen as a violation of request_id.
func Check(v Violations, rid string) {
	if len(rid) > MaxLen {
		v.Add("request_id", "must be at most 128 characters")
	}
}

// Checked returns the request's id (see RequestID) and reports it to v when
// it is too long, or when the request_id field and the Idempotency-Key
// header are both sent and differ: which one a retry would be matched by
// is then a guess, and a guess can duplicate.
func Checked(ctx context.Context, field string, v Violations) string {
	rid := RequestID(ctx, field)
	Check(v, rid)
	md, _ := metadata.FromIncomingContext(ctx)
	if h := md.Get("idempotency-key"); field != "" && len(h) > 0 && h[0] != field {
		v.Add("request_id", fmt.Sprintf("is %q but the Idempotency-Key header is %q: send one, or the same in both", field, h[0]))
	}
	return rid
}

// Key identifies one call: the caller's office, the method and the id.
type Key struct {
	Scope, Method, RequestID string
}

// Do runs fn in tx unless key already committed. On the first call it
// records the request's hash, runs fn and stores its response. On a replay
// it unmarshals the stored response into resp and returns (true, nil)
// without calling fn. A concurrent duplicate waits on the key's row until
// the first commits and then replays. With an empty RequestID, fn simply
// runs.
func Do(ctx context.Context, tx pgx.Tx, key Key, req proto.Message, resp proto.Message, fn func() error) (replayed bool, err error) {
	return DoAlong(ctx, tx, key, req, resp, nil, fn)
}

// DoAlong is Do with statements that travel with the claim, in its round
// trip: along queues them (a registration's case number and repeat
// look-up), and their results are in when fn runs. On a replay they have
// run for nothing (a number drawn from a sequence is simply not used).
func DoAlong(ctx context.Context, tx pgx.Tx, key Key, req proto.Message, resp proto.Message, along func(*pgx.Batch) error, fn func() error) (replayed bool, err error) {
	b := &pgx.Batch{}
	claimed := true
	var hash []byte
	if key.RequestID != "" {
		if hash, err = hashOf(req); err != nil {
			return false, err
		}
		b.Queue(`INSERT INTO idempotency_keys (scope, method, request_id, request_hash)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, key.Scope, key.Method, key.RequestID, hash).Exec(func(tag pgconn.CommandTag) error {
			claimed = tag.RowsAffected() == 1
			return nil
		})
	}
	if along != nil {
		if err := along(b); err != nil {
			return false, err
		}
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return false, fmt.Errorf("idempotency: claim: %w", err)
		}
	}
	if key.RequestID == "" {
		return false, fn()
	}
	if !claimed {
		var storedHash, stored []byte
		err := tx.QueryRow(ctx, `SELECT request_hash, response FROM idempotency_keys
			WHERE scope = $1 AND method = $2 AND request_id = $3`, key.Scope, key.Method, key.RequestID).Scan(&storedHash, &stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, fmt.Errorf("idempotency: key vanished")
		} else if err != nil {
			return false, fmt.Errorf("idempotency: load: %w", err)
		}
		if string(storedHash) != string(hash) {
			return false, fault.New(fault.InvalidArgument, "REQUEST_ID_REUSED",
				"request_id "+key.RequestID+" was already used for a different request", "request_id", key.RequestID)
		}
		if err := proto.Unmarshal(stored, resp); err != nil {
			return false, fmt.Errorf("idempotency: stored response: %w", err)
		}
		return true, nil
	}
	if err := fn(); err != nil {
		return false, err
	}
	stored, err := proto.Marshal(resp)
	if err != nil {
		return false, fmt.Errorf("idempotency: marshal response: %w", err)
	}
	if err := pgdb.Later(ctx, tx, `UPDATE idempotency_keys SET response = $4
		WHERE scope = $1 AND method = $2 AND request_id = $3`, key.Scope, key.Method, key.RequestID, stored); err != nil {
		return false, fmt.Errorf("idempotency: store: %w", err)
	}
	return false, nil
}

// hashOf hashes the request deterministically. The request_id field is part
// of it, which is harmless: a replay carries the same id.
func hashOf(req proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("idempotency: hash request: %w", err)
	}
	h := sha256.Sum256(b)
	return h[:], nil
}
