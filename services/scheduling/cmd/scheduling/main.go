// Command scheduling runs the scheduling service: the working-day calendar,
// the statutory clocks of every case (from assignment's event feed), their
// reminders and supervision (督办).
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/scheduling/internal/server"
	"github.com/tongban/tongban/services/scheduling/internal/store"
	"github.com/tongban/tongban/services/scheduling/migrations"
)

// config is scheduling's own configuration (SCHEDULING_NAME or TONGBAN_NAME).
type config struct {
	// RemindWorkingDays: how many working days before a deadline the
	// office is reminded.
	RemindWorkingDays int `env:"REMIND_WORKING_DAYS" envDefault:"3"`
	// JobInterval: how often the reminder and supervision jobs run.
	JobInterval time.Duration `env:"JOB_INTERVAL" envDefault:"10s"`
}

func (c *config) Validate() error {
	var errs []error
	if c.RemindWorkingDays < 0 {
		errs = append(errs, fmt.Errorf("SCHEDULING_REMIND_WORKING_DAYS: want a number ≥ 0, have %d", c.RemindWorkingDays))
	}
	if c.JobInterval <= 0 {
		errs = append(errs, fmt.Errorf("SCHEDULING_JOB_INTERVAL: want a duration such as 10s, have %v", c.JobInterval))
	}
	return errors.Join(errs...)
}

func main() {
	var cfg config
	app.Main(app.Spec{
		Name: "scheduling", Env: "SCHEDULING_",
		DefaultHTTP: "127.0.0.1:7302",
		Migrations:  migrations.Set,
		Config:      &cfg,
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			srv, err := server.New(&store.Store{Pool: d.Pool}, d.Directory)
			if err != nil {
				return nil, err
			}
			srv.RemindWorkingDays = cfg.RemindWorkingDays
			if _, err := srv.LoadCalendar(ctx); err != nil {
				return nil, err
			}
			// A new year's notice or a changed rule set arrives with a new
			// build: bring running clocks up to date with it.
			if _, err := srv.Recompute(ctx); err != nil {
				return nil, err
			}
			schedulingv1.RegisterSchedulingServiceServer(s, srv)
			srv.Gauges(d.Metrics)
			// The clocks run on assignment's moves, taken a batch at a time.
			moves, err := d.FollowBatches("assignment", srv.BeginMoves)
			if err != nil {
				return nil, err
			}
			logger := logging.FromContext(ctx)
			logf := func(msg string, args ...any) { logger.Error(msg, args...) }
			return []func(context.Context) error{moves, srv.Jobs(cfg.JobInterval, logf)}, nil
		},
	})
}
