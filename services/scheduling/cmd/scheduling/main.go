// Command scheduling runs the scheduling service: the working-day calendar,
// the statutory clocks of every case (from assignment's event feed), their
// reminders and supervision (督办).
package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc"

	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/scheduling/internal/server"
	"github.com/tongban/tongban/services/scheduling/internal/store"
	"github.com/tongban/tongban/services/scheduling/migrations"
)

func main() {
	app.Main(app.Spec{
		Name: "scheduling", Env: "SCHEDULING_",
		DefaultGRPC: "127.0.0.1:7301", DefaultHTTP: "127.0.0.1:7302",
		Migrations: migrations.Set,
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			srv, err := server.New(&store.Store{Pool: d.Pool}, d.Directory)
			if err != nil {
				return nil, err
			}
			// How many working days before a deadline the office is reminded.
			if srv.RemindWorkingDays, err = strconv.Atoi(d.Env("REMIND_WORKING_DAYS", "3")); err != nil || srv.RemindWorkingDays < 0 {
				return nil, fmt.Errorf("SCHEDULING_REMIND_WORKING_DAYS: want a number ≥ 0, have %q", d.Env("REMIND_WORKING_DAYS", "3"))
			}
			// How often the reminder and supervision jobs run.
			interval, err := time.ParseDuration(d.Env("JOB_INTERVAL", "10s"))
			if err != nil || interval <= 0 {
				return nil, fmt.Errorf("SCHEDULING_JOB_INTERVAL: want a duration such as 10s, have %q", d.Env("JOB_INTERVAL", "10s"))
			}
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
			moves, err := d.FollowBatches("assignment", "127.0.0.1:7201", srv.BeginMoves)
			if err != nil {
				return nil, err
			}
			logger := logging.FromContext(ctx)
			logf := func(msg string, args ...any) { logger.Error(msg, args...) }
			return []func(context.Context) error{moves, srv.Jobs(interval, logf)}, nil
		},
	})
}
