package pgtest

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/pgdb"
)

// NewCountingPool opens a pool of one connection to a fresh migrated
// database whose writes to the server are counted: one per round trip.
func (i *Instance) NewCountingPool(t testing.TB) (*pgxpool.Pool, *atomic.Int64) {
	t.Helper()
	cfg, err := pgdb.Config(i.NewDatabaseURL(t), i.schema)
	if err != nil {
		t.Fatal(err)
	}
	return countingPool(t, cfg)
}

// NewCountingPool opens a pool of one connection to url whose writes to
// the server are counted: one per round trip. It never pings the
// connection, so the count is the code's own.
func NewCountingPool(t testing.TB, url string) (*pgxpool.Pool, *atomic.Int64) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return countingPool(t, cfg)
}

func countingPool(t testing.TB, cfg *pgxpool.Config) (*pgxpool.Pool, *atomic.Int64) {
	t.Helper()
	cfg.MaxConns = 1
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	writes := &atomic.Int64{}
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		return countingConn{c, writes}, err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, writes
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}
