package server

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/metrics"
	"github.com/tongban/tongban/services/platform/pgdb"
)

// supervisor is the office above o: the county (its petition bureau) above
// its townships and departments, the prefecture above the bureau.
func (s *Server) supervisor(o string) string {
	off, ok := s.Dir.Office(o)
	if ok && off.Kind == directory.Bureau {
		if p, ok := s.Dir.Prefecture(); ok {
			return p.ID
		}
	}
	if ok && off.Kind == directory.Prefecture {
		return off.ID
	}
	return s.Dir.Bureau().ID
}

// Tick runs the jobs once: reminders for deadlines near, 督办 for deadlines
// missed, reception notices due. Each claims its rows with FOR UPDATE SKIP
// LOCKED and marks them in the same transaction, so replicas running Tick
// at once never send one twice.
func (s *Server) Tick(ctx context.Context) (reminded, supervised int, err error) {
	today := s.Today()
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		due, err := s.Store.ClaimReminders(ctx, tx, today, 100)
		if err != nil {
			return err
		}
		for _, c := range due {
			if err := s.Store.Remind(ctx, tx, c); err != nil {
				return err
			}
		}
		reminded = len(due)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		late, err := s.Store.ClaimOverdue(ctx, tx, today, 100)
		if err != nil {
			return err
		}
		for _, c := range late {
			if err := s.Store.Supervise(ctx, tx, c, s.supervisor(c.Office)); err != nil {
				return err
			}
			if err := s.publish(ctx, tx, c); err != nil {
				return err
			}
		}
		supervised = len(late)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	_, err = s.SendNotices(ctx)
	return reminded, supervised, err
}

// Gauges registers scheduling's own metrics: the jobs' backlog by kind and
// the open 督办.
func (s *Server) Gauges(m *metrics.Metrics) {
	scrape := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), time.Second)
	}
	m.GaugeVec("tongban_jobs_due", "Reminders, supervisions and notices due that the jobs have not done yet.", "kind", func() map[string]float64 {
		ctx, cancel := scrape()
		defer cancel()
		due, err := s.Store.JobsDue(ctx, s.Today(), s.Now())
		if err != nil {
			return nil
		}
		return due
	})
	m.Gauge("tongban_supervisions_open", "Supervisions (督办) of missed deadlines not yet resolved.", func() float64 {
		ctx, cancel := scrape()
		defer cancel()
		n, _ := s.Store.OpenSupervisions(ctx)
		return float64(n)
	})
}

// Jobs returns the background worker: every interval it reloads the local
// days off (recomputing clocks when they changed, so every replica sees an
// administrator's change) and runs Tick.
func (s *Server) Jobs(interval time.Duration, logf func(msg string, args ...any)) func(context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if changed, err := s.LoadCalendar(ctx); err != nil {
				logf("scheduling: calendar", "error", err.Error())
			} else if changed {
				if _, err := s.Recompute(ctx); err != nil {
					logf("scheduling: recompute", "error", err.Error())
				}
			}
			if _, _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				logf("scheduling: jobs", "error", err.Error())
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}
