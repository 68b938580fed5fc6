// Command intake runs the intake service: registration of petitions, their
// case numbers, and the CaseRegistered feed.
package main

import (
	"context"
	"errors"
	"fmt"
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

// config is intake's own configuration (INTAKE_NAME or TONGBAN_NAME).
type config struct {
	// Identity is sealed at rest; the service refuses to start without keys.
	IdentityKeys    string `env:"IDENTITY_KEYS" json:"-"`
	IdentityKeyID   string `env:"IDENTITY_KEY_ID"`
	IdentityHashKey string `env:"IDENTITY_HASH_KEY" json:"-"`
	// BlobDir keeps attachments' bytes.
	BlobDir string `env:"BLOB_DIR"`
	// RepeatWindowDays: a case repeats an earlier one of the same
	// petitioner and matter registered within this many days.
	RepeatWindowDays int `env:"REPEAT_WINDOW_DAYS" envDefault:"180"`
	// DurableReadAudit commits each identity read's audit entry before
	// the answer (rather than with the next write).
	DurableReadAudit bool `env:"DURABLE_READ_AUDIT"`
	// RetentionDays: the petitioners' identity of a case that ended this
	// many days ago is anonymised (0 keeps it for ever).
	RetentionDays int `env:"RETENTION_DAYS" envDefault:"1826"`
}

func (c *config) Validate() error {
	var errs []error
	if c.BlobDir == "" {
		errs = append(errs, errors.New("set INTAKE_BLOB_DIR: the directory that keeps attachments' bytes"))
	}
	if c.RepeatWindowDays < 1 {
		errs = append(errs, fmt.Errorf("INTAKE_REPEAT_WINDOW_DAYS: want a positive number of days, have %d", c.RepeatWindowDays))
	}
	if c.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("INTAKE_RETENTION_DAYS: want a number of days (0: keep for ever), have %d", c.RetentionDays))
	}
	return errors.Join(errs...)
}

func main() {
	var cfg config
	app.Main(app.Spec{
		Name: "intake", Env: "INTAKE_",
		DefaultHTTP: "127.0.0.1:7102",
		Migrations:  migrations.Set,
		Config:      &cfg,
		// A petitioner's progress lookup by case number and query code.
		PublicMethods: []string{server.ProgressMethod},
		Register: func(ctx context.Context, d app.Deps, s *grpc.Server) ([]func(context.Context) error, error) {
			keys, err := protect.Parse(cfg.IdentityKeys, cfg.IdentityKeyID, cfg.IdentityHashKey)
			if err != nil {
				return nil, fmt.Errorf("%w (set INTAKE_IDENTITY_KEYS, INTAKE_IDENTITY_KEY_ID, INTAKE_IDENTITY_HASH_KEY)", err)
			}
			st := &store.Store{Pool: d.Pool, Keys: keys}
			if _, err := st.HashLegacyQueryCodes(ctx); err != nil {
				return nil, err
			}
			srv, err := server.New(st, d.Directory, blob.Dir{Root: cfg.BlobDir})
			if err != nil {
				return nil, err
			}
			srv.RepeatWindow = time.Duration(cfg.RepeatWindowDays) * 24 * time.Hour
			srv.DurableReadAudit = cfg.DurableReadAudit
			intakev1.RegisterIntakeServiceServer(s, srv)
			// State, holder and history of each case, projected from assignment.
			moves, err := d.Follow("assignment", srv.ProjectMove)
			workers := []func(context.Context) error{moves}
			if cfg.RetentionDays > 0 {
				workers = append(workers, srv.RetentionJob(time.Duration(cfg.RetentionDays)*24*time.Hour, time.Hour))
			}
			return workers, err
		},
	})
}
