package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tongban/tongban/services/platform/pagination"
)

// RepeatsPerHash bounds the repeat look-up: for each ID number and phone it
// reads the petitioner's RepeatsPerHash most recent cases in the window,
// whatever their history (a long-term petitioner's thousands of cases, a
// hotline number given for many callers), so that a registration's cost
// does not grow with it. Linking picks the earliest matching case among
// those (docs/lifecycle.md, "Repeats").
const RepeatsPerHash = 8

// repeatCandidatesSQL is the repeat look-up: per hash an index scan of
// petitioners (hash, receive_time DESC) from the window's newest, at most
// RepeatsPerHash rows. tools/benchintake/ceiling.go runs a copy of it, with pgbench's
// variables for the parameters: change both.
const repeatCandidatesSQL = `WITH p AS MATERIALIZED (
		SELECT m.* FROM unnest($2::bytea[]) AS h(hash) CROSS JOIN LATERAL (
			SELECT case_number, id_number_hash, phone_hash FROM petitioners
			WHERE id_number_hash = h.hash AND receive_time >= $4 ORDER BY receive_time DESC LIMIT $5) m
		UNION
		SELECT m.* FROM unnest($3::bytea[]) AS h(hash) CROSS JOIN LATERAL (
			SELECT case_number, id_number_hash, phone_hash FROM petitioners
			WHERE phone_hash = h.hash AND receive_time >= $4 ORDER BY receive_time DESC LIMIT $5) m)
	SELECT c.case_number, coalesce(c.repeat_of, c.case_number), c.township, c.topic, c.case_class,
		c.receive_time, coalesce(p.id_number_hash, ''), coalesce(p.phone_hash, ''), c.registered_by, c.involved_offices,
		coalesce(r.involved_offices, c.involved_offices), coalesce(r.state, c.state)
	FROM p CROSS JOIN LATERAL (SELECT * FROM cases WHERE case_number = p.case_number
		AND county = $1 AND receive_time >= $4 LIMIT 1) c
	LEFT JOIN LATERAL (SELECT involved_offices, state FROM cases WHERE case_number = c.repeat_of) r ON true`

// Candidate is one petitioner of an earlier case that may make a new case a
// repeat.
type Candidate struct {
	Number, Root, Township, Topic string
	Class                         int16
	ReceiveTime                   time.Time
	IDHash, PhoneHash             []byte
	// RegisteredBy and Involved say who may see the earlier case and its
	// identity (FindRepeats answers only with what the caller may).
	RegisteredBy string
	Involved     []string
	// RootOf is the first case of its matter, Root, as the look-up read it:
	// a new case that repeats it shows whether its caller may see it
	// without another round trip.
	RootOf Root
}

// QueueRepeatCandidates queues the repeat look-up on b (to share a round
// trip with other statements): the petitioners of county's cases received
// since that share one of the hashes, with their case's matter (the
// server's repeatLookup picks among them); into receives them when b is
// sent. It must start from the hash indexes, and the materialised CTE makes
// it so whatever the statistics say: with stale ones (a fresh or freshly
// imported county; autovacuum analyses a minute later at best) the planner
// started from the window's cases instead and probed each one's
// petitioners, a cost growing with the cases. The lateral subquery (LIMIT 1
// keeps it from being flattened) reads each match's case by its key rather
// than hashing the window's cases.
func QueueRepeatCandidates(b *pgx.Batch, county string, idHashes, phoneHashes [][]byte, since time.Time, into *[]Candidate) {
	b.Queue(repeatCandidatesSQL, county, idHashes, phoneHashes, since, RepeatsPerHash).Query(func(rows pgx.Rows) error {
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Candidate, error) {
			var c Candidate
			err := r.Scan(&c.Number, &c.Root, &c.Township, &c.Topic, &c.Class, &c.ReceiveTime, &c.IDHash, &c.PhoneHash, &c.RegisteredBy, &c.Involved,
				&c.RootOf.Involved, &c.RootOf.State)
			return c, err
		})
		if err != nil {
			return fmt.Errorf("store.QueueRepeatCandidates: %w", err)
		}
		*into = out
		return nil
	})
}

// Earlier is one of a petitioner's earlier cases as FindRepeats shows it.
type Earlier struct {
	Number, County, Subject, Township, Topic string
	Class, State                             int16
	ReceiveTime                              time.Time
	RegisteredBy                             string
	Involved                                 []string
}

// repeatPageSQL is a page of a petitioner's cases registered by one office:
// per hash an index scan of petitioners (hash, receive_time DESC) from the
// page's start, each row's case read by its key and kept when that office
// registered it, stopping at the page's size in cases, so a page costs the same
// whatever the history (a hotline number's ten thousand callers, of whom
// the office registered few, cost a scan of the hash's window; see
// TestRepeatPages). A case matched by both hashes, or by two of its
// petitioners, is one row.
const repeatPageSQL = `WITH m AS (
		(SELECT DISTINCT ON (p.receive_time, p.case_number) p.case_number
		FROM petitioners p JOIN cases c USING (case_number)
		WHERE p.id_number_hash = $2 AND p.receive_time >= $4 AND p.receive_time <= $6
			AND (p.receive_time < $6 OR p.case_number < $7) AND c.registered_by = $5 AND c.county = $1
		ORDER BY p.receive_time DESC, p.case_number DESC LIMIT $8)
		UNION
		(SELECT DISTINCT ON (p.receive_time, p.case_number) p.case_number
		FROM petitioners p JOIN cases c USING (case_number)
		WHERE p.phone_hash = $3 AND p.receive_time >= $4 AND p.receive_time <= $6
			AND (p.receive_time < $6 OR p.case_number < $7) AND c.registered_by = $5 AND c.county = $1
		ORDER BY p.receive_time DESC, p.case_number DESC LIMIT $8))
	SELECT c.case_number, c.county, c.subject, c.township, c.topic, c.case_class, c.state, c.receive_time,
		c.registered_by, c.involved_offices
	FROM m JOIN cases c USING (case_number)
	ORDER BY c.receive_time DESC, c.case_number DESC LIMIT $8`

// RepeatPage returns up to limit of county's cases registered by office,
// received since, with a petitioner whose ID number or phone has one of the
// hashes (either may be nil), newest first, after the keyset (nil for the
// first page).
func (s *Store) RepeatPage(ctx context.Context, county, office string, idHash, phoneHash []byte, since time.Time, after *pagination.Keyset, limit int) ([]Earlier, error) {
	from, key := pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}, ""
	if after != nil {
		from, key = pgtype.Timestamptz{Time: after.Time, Valid: true}, after.Key
	}
	rows, err := s.Pool.Query(ctx, repeatPageSQL, county, idHash, phoneHash, since, office, from, key, limit)
	if err != nil {
		return nil, fmt.Errorf("store.RepeatPage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Earlier, error) {
		var e Earlier
		err := r.Scan(&e.Number, &e.County, &e.Subject, &e.Township, &e.Topic, &e.Class, &e.State, &e.ReceiveTime, &e.RegisteredBy, &e.Involved)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store.RepeatPage: %w", err)
	}
	return out, nil
}
