// Command reporting runs the reporting service: a read model fed by
// assignment's events and the county's figures.
package main

import (
	"context"

	"google.golang.org/grpc"

	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	"github.com/tongban/tongban/services/platform/app"
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
			reportingv1.RegisterReportingServiceServer(s, srv)
			// Every move (registration included) feeds the read model.
			moves, err := d.Follow("assignment", "127.0.0.1:7201", srv.Record)
			return []func(context.Context) error{moves}, err
		},
	})
}
