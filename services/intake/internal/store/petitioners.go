package store

import (
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/platform/pgdb"
)

// seal is the at-rest form of a petitioner of case number, ordinal n
// (1-based): every field bound to its case, ordinal and name.
func (s *Store) seal(c *Case, n int, p Petitioner) []any {
	number := c.Number
	return []any{number, n, p.Kind, p.Representative, s.Keys.CurrentID(),
		s.Keys.Seal(p.Name, sealContext(number, n, "name")), s.Keys.Seal(p.IDNumber, sealContext(number, n, "id_number")),
		s.Keys.Seal(p.Phone, sealContext(number, n, "phone")),
		s.Keys.Hash("id_number", p.IDNumber), s.Keys.Hash("phone", p.Phone), c.ReceiveTime}
}

// sealContext binds a sealed field to its case, petitioner and field name,
// so a sealed value cannot be moved to another row or column.
func sealContext(number string, ordinal int, field string) string {
	return fmt.Sprintf("%s/%d/%s", number, ordinal, field)
}

// petitioners loads and opens the petitioners of the given cases.
func (s *Store) petitioners(ctx context.Context, numbers []string) (map[string][]Petitioner, error) {
	rows, err := s.Pool.Query(ctx, petitionersSQL, numbers)
	if err != nil {
		return nil, fmt.Errorf("store.petitioners: %w", err)
	}
	return s.openPetitioners(rows)
}

const petitionersSQL = `SELECT case_number, ordinal, kind, representative, key_id, name_enc, id_number_enc, phone_enc
	FROM petitioners WHERE case_number = ANY ($1) ORDER BY case_number, ordinal`

// openPetitioners reads petitionersSQL's rows, opening the sealed fields.
func (s *Store) openPetitioners(rows pgx.Rows) (map[string][]Petitioner, error) {
	defer rows.Close()
	out := map[string][]Petitioner{}
	for rows.Next() {
		var num, keyID string
		var n int
		var p Petitioner
		var name, id, phone []byte
		if err := rows.Scan(&num, &n, &p.Kind, &p.Representative, &keyID, &name, &id, &phone); err != nil {
			return nil, fmt.Errorf("store.petitioners: %w", err)
		}
		for _, f := range []struct {
			dst   *string
			val   []byte
			field string
		}{{&p.Name, name, "name"}, {&p.IDNumber, id, "id_number"}, {&p.Phone, phone, "phone"}} {
			var err error
			if *f.dst, err = s.Keys.Open(f.val, keyID, sealContext(num, n, f.field)); err != nil {
				return nil, fmt.Errorf("case %s petitioner %d %s: %w", num, n, f.field, err)
			}
		}
		out[num] = append(out[num], p)
	}
	return out, rows.Err()
}

// QueryCode is the query code printed on a case's receipt (受理凭证, 查询码):
// eight characters, 0-9 and A-F, the keyed hash of its number under the
// identity hash key. Derived, never stored: the registering office can
// reprint a receipt, a retried registration gets the same code, and the
// database alone gives no code away. (32 bits, against the lookup's
// lockout of 5 wrong codes per case in 15 minutes.)
func (s *Store) QueryCode(number string) string {
	return strings.ToUpper(hex.EncodeToString(s.Keys.Hash("query_code", number)[:4]))
}

// QueryCodeMatches reports, in constant time, whether code is c's.
func (s *Store) QueryCodeMatches(c *Case, code string) bool {
	if c.QueryCodeHash != nil {
		return hmac.Equal(c.QueryCodeHash, s.legacyHash(c.Number, code))
	}
	return subtle.ConstantTimeCompare([]byte(s.QueryCode(c.Number)), []byte(code)) == 1
}

func (s *Store) legacyHash(number, code string) []byte {
	return s.Keys.Hash("legacy_query_code", number+"\x00"+code)
}

// HashLegacyQueryCodes replaces the query codes stored in clear before
// migration 000011 by their keyed hashes, a thousand cases a transaction;
// once done it finds nothing and costs one indexless scan of a column
// that is NULL everywhere.
func (s *Store) HashLegacyQueryCodes(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT case_number, query_code FROM cases WHERE query_code IS NOT NULL LIMIT 1000 FOR UPDATE SKIP LOCKED`)
			if err != nil {
				return err
			}
			type legacy struct{ number, code string }
			found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (legacy, error) {
				var l legacy
				return l, r.Scan(&l.number, &l.code)
			})
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			for _, l := range found {
				b.Queue(`UPDATE cases SET query_code_hash = $2, query_code = NULL WHERE case_number = $1`, l.number, s.legacyHash(l.number, l.code))
			}
			n = len(found)
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return total, fmt.Errorf("store.HashLegacyQueryCodes: %w", err)
		}
		if total += n; n == 0 {
			return total, nil
		}
	}
}

func (s *Store) insertPetitioners(ctx context.Context, tx pgx.Tx, c *Case) error {
	const qp = `INSERT INTO petitioners (case_number, ordinal, kind, representative, key_id,
		name_enc, id_number_enc, phone_enc, id_number_hash, phone_hash, receive_time) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`
	batch := &pgx.Batch{}
	for i, p := range c.Petitioners {
		batch.Queue(qp, s.seal(c, i+1, p)...)
	}
	if err := pgdb.LaterBatch(ctx, tx, batch); err != nil {
		return fmt.Errorf("store.Insert petitioners: %w", err)
	}
	return nil
}

// Anonymise removes the identity of up to limit cases that ended before
// cutoff and are not anonymised yet: the petitioners' sealed names, ID and
// phone numbers and their lookup hashes, and the free-text content (which
// may name people). It claims the cases with SKIP LOCKED, so replicas
// share the work, and returns the case numbers it anonymised.
func (s *Store) Anonymise(ctx context.Context, tx pgx.Tx, cutoff time.Time, limit int) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT case_number FROM cases WHERE end_time < $1 AND anonymised_time IS NULL
		ORDER BY end_time LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("store.Anonymise: %w", err)
	}
	numbers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(numbers) == 0 {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE petitioners SET name_enc = NULL, id_number_enc = NULL, phone_enc = NULL, id_number_hash = NULL, phone_hash = NULL
		WHERE case_number = ANY ($1)`, numbers)
	b.Queue(`UPDATE cases SET content = '（保存期满，内容已删除）', anonymised_time = now() WHERE case_number = ANY ($1)`, numbers)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store.Anonymise: %w", err)
	}
	return numbers, nil
}
