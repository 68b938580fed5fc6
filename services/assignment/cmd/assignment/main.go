// Command assignment runs the assignment service: who holds each case, its
// state and every move of it.
package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	directoryv1 "github.com/tongban/tongban/proto/tongban/directory/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/assignment/internal/server"
	"github.com/tongban/tongban/services/assignment/internal/store"
	"github.com/tongban/tongban/services/assignment/migrations"
	"github.com/tongban/tongban/services/platform/app"
)

func main() {
	app.Main(app.Spec{
		Name: "assignment", Env: "ASSIGNMENT_",
		DefaultHTTP: "127.0.0.1:7202",
		Migrations:  migrations.Set, OwnsDirectory: true,
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			srv, err := server.New(&store.Store{Pool: d.Pool}, d.Directory)
			if err != nil {
				return nil, err
			}
			if err := srv.LoadCalendar(ctx); err != nil {
				return nil, err
			}
			assignmentv1.RegisterAssignmentServiceServer(s, srv)
			// The county's offices: seeded from the directory file, changed
			// by administrators, followed by the other services.
			offices := &server.Offices{Store: srv.Store, Dir: d.Directory}
			if err := offices.Load(ctx); err != nil {
				return nil, err
			}
			directoryv1.RegisterOfficeServiceServer(s, offices)
			eventsv1.RegisterCaseEventServiceServer(s, &server.Events{Store: srv.Store, Poll: 200 * time.Millisecond})
			// Case cards show the subject, which is intake's.
			intake, err := d.Dial(d.Config.Addrs.Intake)
			if err != nil {
				return nil, fmt.Errorf("dial intake: %w", err)
			}
			srv.Subjects = server.IntakeSubjects{Client: intakev1.NewIntakeServiceClient(intake)}
			// New cases arrive as intake's CaseRegistered events, taken a
			// batch at a time.
			registrations, err := d.FollowBatches("intake", srv.BeginRegistrations)
			if err != nil {
				return nil, err
			}
			// The statutory clocks, shown on the case, and holiday notices
			// loaded at run time come from scheduling.
			clocks, err := d.Follow("scheduling", srv.ApplyScheduling)
			refresh := func(ctx context.Context) error { return offices.Run(ctx, d.Config.DirectoryRefresh) }
			return []func(context.Context) error{registrations, clocks, refresh}, err
		},
	})
}
