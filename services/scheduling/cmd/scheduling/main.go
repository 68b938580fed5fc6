// Command scheduling runs the scheduling service: the working-day calendar
// now; statutory clocks, reminders and reception days come with the
// scheduling issue.
package main

import (
	"context"

	"google.golang.org/grpc"

	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/calendar"
	"github.com/tongban/tongban/services/scheduling/internal/server"
)

func main() {
	app.Main(app.Spec{
		Name: "scheduling", Env: "SCHEDULING_",
		DefaultGRPC: "127.0.0.1:7301", DefaultHTTP: "127.0.0.1:7302",
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			schedulingv1.RegisterSchedulingServiceServer(s, &server.Server{Calendar: calendar.Official()})
			return nil, nil
		},
	})
}
