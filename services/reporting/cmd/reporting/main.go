// Command reporting runs the reporting service: a read model fed by
// intake's, assignment's and scheduling's events, and the county's
// figures, deadlines lists and monthly exports.
package main

import (
	"context"
	"fmt"
	"strconv"

	"google.golang.org/grpc"

	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/reporting/internal/server"
	"github.com/tongban/tongban/services/reporting/internal/store"
	"github.com/tongban/tongban/services/reporting/migrations"
)

func main() {
	app.Main(app.Spec{
		Name: "reporting", Env: "REPORTING_",
		DefaultGRPC: "127.0.0.1:7401", DefaultHTTP: "127.0.0.1:7402",
		Migrations: migrations.Set,
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			srv := &server.Server{Store: &store.Store{Pool: d.Pool}, Dir: d.Directory}
			// The at-risk list: running clocks due within this many working days.
			days := d.Env("AT_RISK_WORKING_DAYS", "3")
			var err error
			if srv.AtRiskWorkingDays, err = strconv.Atoi(days); err != nil || srv.AtRiskWorkingDays < 1 {
				return nil, fmt.Errorf("REPORTING_AT_RISK_WORKING_DAYS: want a number ≥ 1, have %q", days)
			}
			// REPORTING_REBUILD=true empties the read model and rebuilds it
			// from the feeds' whole history (a one-off, after a change of
			// the figures' definitions).
			if d.Env("REBUILD", "false") == "true" {
				if err := srv.Store.Reset(ctx); err != nil {
					return nil, err
				}
				logging.FromContext(ctx).InfoContext(ctx, "read model emptied; rebuilding from the feeds")
			}
			reportingv1.RegisterReportingServiceServer(s, srv)
			var workers []func(context.Context) error
			for _, feed := range []struct{ name, addr string }{
				{"intake", "127.0.0.1:7101"},     // registrations, corrections, repeats
				{"assignment", "127.0.0.1:7201"}, // every move
				{"scheduling", "127.0.0.1:7301"}, // clocks and leaders' meetings
			} {
				w, err := d.FollowBatches(feed.name, feed.addr, srv.Begin)
				if err != nil {
					return nil, err
				}
				workers = append(workers, w)
			}
			return workers, nil
		},
	})
}
