// Command assignment runs the assignment service: who holds each case, its
// state and every move of it.
package main

import (
	"context"

	"google.golang.org/grpc"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	"github.com/tongban/tongban/services/assignment/internal/server"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/migrations"
	"github.com/tongban/tongban/services/platform/app"
)

func main() {
	app.Main(app.Spec{
		Name: "assignment", Env: "ASSIGNMENT_",
		DefaultGRPC: "127.0.0.1:7201", DefaultHTTP: "127.0.0.1:7202",
		Migrations: migrations.Set,
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			srv := server.New(&store.Store{Pool: d.Pool}, d.Directory)
			assignmentv1.RegisterAssignmentServiceServer(s, srv)
			// New cases arrive as intake's CaseRegistered events.
			registrations, err := d.Follow("intake", "127.0.0.1:7101", srv.Register)
			return []func(context.Context) error{registrations}, err
		},
	})
}
