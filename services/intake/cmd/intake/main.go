// Command intake runs the intake service: registration of petitions, their
// case numbers, and the CaseRegistered feed.
package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/intake/internal/server"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/intake/migrations"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/blob"
	"github.com/tongban/tongban/services/platform/protect"
)

func main() {
	app.Main(app.Spec{
		Name: "intake", Env: "INTAKE_",
		DefaultGRPC: "127.0.0.1:7101", DefaultHTTP: "127.0.0.1:7102",
		Migrations: migrations.Set,
		// A petitioner's progress lookup by case number and query code.
		PublicMethods: []string{server.ProgressMethod},
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			// Identity is sealed at rest; the service refuses to start without keys.
			keys, err := protect.Parse(d.Env("IDENTITY_KEYS", ""), d.Env("IDENTITY_KEY_ID", ""), d.Env("IDENTITY_HASH_KEY", ""))
			if err != nil {
				return nil, fmt.Errorf("%w (set INTAKE_IDENTITY_KEYS, INTAKE_IDENTITY_KEY_ID, INTAKE_IDENTITY_HASH_KEY)", err)
			}
			blobDir := d.Env("BLOB_DIR", "")
			if blobDir == "" {
				return nil, fmt.Errorf("set INTAKE_BLOB_DIR: the directory that keeps attachments' bytes")
			}
			st := &store.Store{Pool: d.Pool, Keys: keys}
			if _, err := st.HashLegacyQueryCodes(ctx); err != nil {
				return nil, err
			}
			srv, err := server.New(st, d.Directory, blob.Dir{Root: blobDir})
			if err != nil {
				return nil, err
			}
			days, err := strconv.Atoi(d.Env("REPEAT_WINDOW_DAYS", "180"))
			if err != nil || days < 1 {
				return nil, fmt.Errorf("INTAKE_REPEAT_WINDOW_DAYS must be a positive number of days")
			}
			srv.RepeatWindow = time.Duration(days) * 24 * time.Hour
			intakev1.RegisterIntakeServiceServer(s, srv)
			// Retention: the petitioners' identity of a case that ended this
			// many days ago is anonymised (0 keeps it for ever).
			srv.DurableReadAudit = d.Env("DURABLE_READ_AUDIT", "") == "true"
			retain, err := strconv.Atoi(d.Env("RETENTION_DAYS", "1826"))
			if err != nil || retain < 0 {
				return nil, fmt.Errorf("INTAKE_RETENTION_DAYS must be a number of days (0: keep for ever)")
			}
			// State, holder and history of each case, projected from assignment.
			moves, err := d.Follow("assignment", "127.0.0.1:7201", srv.ProjectMove)
			workers := []func(context.Context) error{moves}
			if retain > 0 {
				workers = append(workers, srv.RetentionJob(time.Duration(retain)*24*time.Hour, time.Hour))
			}
			return workers, err
		},
	})
}
