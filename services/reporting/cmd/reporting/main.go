// Command reporting runs the reporting service: a read model fed by
// intake's, assignment's and scheduling's events, and the county's
// figures, deadlines lists and monthly exports.
package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/reporting/internal/server"
	"github.com/tongban/tongban/services/reporting/internal/store"
	"github.com/tongban/tongban/services/reporting/migrations"
)

// config is reporting's own configuration (REPORTING_NAME or TONGBAN_NAME).
type config struct {
	// AtRiskWorkingDays: the at-risk list holds the running clocks due
	// within this many working days.
	AtRiskWorkingDays int `env:"AT_RISK_WORKING_DAYS" envDefault:"3"`
	// Rebuild empties the read model and rebuilds it from the feeds'
	// whole history (a one-off, after a change of the figures' definitions).
	Rebuild bool `env:"REBUILD"`
}

func (c *config) Validate() error {
	if c.AtRiskWorkingDays < 1 {
		return fmt.Errorf("REPORTING_AT_RISK_WORKING_DAYS: want a number ≥ 1, have %d", c.AtRiskWorkingDays)
	}
	return nil
}

func main() {
	var cfg config
	app.Main(app.Spec{
		Name: "reporting", Env: "REPORTING_",
		DefaultHTTP: "127.0.0.1:7402",
		Migrations:  migrations.Set,
		Config:      &cfg,
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			srv := &server.Server{Store: &store.Store{Pool: d.Pool}, Dir: d.Directory, AtRiskWorkingDays: cfg.AtRiskWorkingDays}
			if cfg.Rebuild {
				if err := srv.Store.Reset(ctx); err != nil {
					return nil, err
				}
				logging.FromContext(ctx).InfoContext(ctx, "read model emptied; rebuilding from the feeds")
			}
			reportingv1.RegisterReportingServiceServer(s, srv)
			var workers []func(context.Context) error
			// Registrations, corrections and repeats; every move; clocks and
			// leaders' meetings.
			for _, feed := range []string{"intake", "assignment", "scheduling"} {
				w, err := d.FollowBatches(feed, srv.Begin)
				if err != nil {
					return nil, err
				}
				workers = append(workers, w)
			}
			return workers, nil
		},
	})
}
