package stack

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Updates counts a table's updated rows, and those of them that were
// heap-only (HOT: the new version on the old one's page, no index touched).
type Updates struct{ All, HOT int64 }

// StatsDelay is how long to wait after a workload before reading
// PostgreSQL's cumulative statistics: a backend reports its counts within
// about a second of going idle.
const StatsDelay = 1500 * time.Millisecond

// TableUpdates reads every user table's update counts ("schema.table").
func TableUpdates(ctx context.Context, conn *pgx.Conn) (map[string]Updates, error) {
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables`)
	if err != nil {
		return nil, err
	}
	out := map[string]Updates{}
	var name string
	var u Updates
	_, err = pgx.ForEachRow(rows, []any{&name, &u.All, &u.HOT}, func() error {
		out[name] = u
		return nil
	})
	return out, err
}
