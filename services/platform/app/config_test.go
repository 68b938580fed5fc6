package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tongban/tongban/services/devkit/democlock"
)

// valid is the least environment a service starts with.
var valid = []string{"TONGBAN_DATABASE_URL=postgres://x", "TONGBAN_SERVICE_TOKEN=0123456789abcdef"}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		environ []string
		check   func(Config) string // what is wrong, or ""
		errs    []string            // each a part of the error; none: no error
	}{{
		name:    "defaults",
		environ: valid,
		check: func(c Config) string {
			want := Config{
				DatabaseURL: "postgres://x", ServiceToken: "0123456789abcdef", GRPCAddr: "127.0.0.1:7101", HTTPAddr: "127.0.0.1:7102",
				ShutdownTimeout: 15 * time.Second, DirectoryRefresh: 15 * time.Second, FeedWait: 2 * time.Second,
				RevocationRefresh: time.Second, Addrs: DefaultAddresses,
			}
			want.TLS.ClientAuth = "none"
			return cmp.Diff(want, c)
		},
	}, {
		name:    "the service's own variable wins over TONGBAN_, an empty one is unset",
		environ: append([]string{"INTAKE_FEED_WAIT=0s", "TONGBAN_FEED_WAIT=5s", "TONGBAN_ASSIGNMENT_ADDR=assignment:7201", "INTAKE_DIRECTORY_REFRESH="}, valid...),
		check: func(c Config) string {
			if c.FeedWait != 0 || c.Addrs.Assignment != "assignment:7201" || c.DirectoryRefresh != 15*time.Second || c.Addrs.Scheduling != DefaultAddresses.Scheduling {
				return "have FEED_WAIT " + c.FeedWait.String() + ", ASSIGNMENT_ADDR " + c.Addrs.Assignment + ", DIRECTORY_REFRESH " + c.DirectoryRefresh.String()
			}
			return ""
		},
	}, {
		name:    "another service's variables are not ours",
		environ: append([]string{"SCHEDULING_FEED_WAIT=9s"}, valid...),
		check: func(c Config) string {
			if c.FeedWait != 2*time.Second {
				return "FEED_WAIT " + c.FeedWait.String()
			}
			return ""
		},
	}, {
		name:    "every value that does not parse, by its variable",
		environ: append([]string{"INTAKE_FEED_WAIT=soon", "TONGBAN_MIGRATE_ONLY=yes"}, valid...),
		errs:    []string{"INTAKE_FEED_WAIT (or TONGBAN_FEED_WAIT)", `"soon"`, "INTAKE_MIGRATE_ONLY (or TONGBAN_MIGRATE_ONLY)"},
	}, {
		name:    "every value out of range, with what is wanted",
		environ: []string{"TONGBAN_FEED_WAIT=31s", "TONGBAN_SERVICE_TOKEN=short", "TONGBAN_DIRECTORY_REFRESH=-1s", "TONGBAN_TLS_CLIENT_AUTH=require"},
		errs: []string{
			"no database: set TONGBAN_DATABASE_URL", "no service credential", "FEED_WAIT: want a duration from 0 to 30s, have 31s",
			"DIRECTORY_REFRESH: want a positive duration", "TLS_CLIENT_AUTH=require needs",
		},
	}, {
		name:    "the revocation refresh matters only with accounts' tokens",
		environ: append([]string{"TONGBAN_REVOCATION_REFRESH=5s", "TONGBAN_TOKEN_PUBLIC_KEYS=k"}, valid...),
		errs:    []string{"REVOCATION_REFRESH: want a positive duration of at most 1s"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{GRPCAddr: DefaultAddresses.Intake, HTTPAddr: "127.0.0.1:7102", Addrs: DefaultAddresses}
			err := Load(&cfg, "INTAKE_", tc.environ)
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if d := tc.check(cfg); d != "" {
					t.Errorf("Load: %s", d)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded with %v", cfg)
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load error %q does not say %q", err, want)
				}
			}
		})
	}
}

// own is a service's own configuration.
type own struct {
	Days int `env:"DAYS" envDefault:"3"`
}

func (o *own) Validate() error {
	if o.Days < 1 {
		return errBadDays
	}
	return nil
}

var errBadDays = errors.New("DAYS: want a number ≥ 1")

func TestLoadOwn(t *testing.T) {
	t.Parallel()
	var o own
	if err := Load(&o, "REPORTING_", nil); err != nil || o.Days != 3 {
		t.Fatalf("Load = %v, Days %d; want the default 3", err, o.Days)
	}
	if err := Load(&o, "REPORTING_", []string{"REPORTING_DAYS=0"}); err != errBadDays {
		t.Errorf("Load with DAYS=0 = %v, want the struct's own Validate error", err)
	}
}

// TestDemoClockKey: the demo clock's variable is the one democlock and the
// stack name.
func TestDemoClockKey(t *testing.T) {
	t.Parallel()
	var cfg Config
	if err := Load(&cfg, "INTAKE_", append([]string{democlock.Env + "=k"}, valid...)); err != nil || cfg.DemoClockKey != "k" {
		t.Errorf("Load with %s set = %v, key %q", democlock.Env, err, cfg.DemoClockKey)
	}
}

// TestMigrateOnlyNeedsNoServiceConfig: a migration Job (deploy/) carries the
// database and the credential; the service's own settings are for serving.
func TestMigrateOnlyNeedsNoServiceConfig(t *testing.T) {
	t.Parallel()
	spec := Spec{Name: "intake", Env: "INTAKE_", DefaultHTTP: "127.0.0.1:7102", Config: &own{}}
	bad := append([]string{"INTAKE_DAYS=0"}, valid...)
	if _, err := loadConfig(spec, bad); err == nil || !strings.Contains(err.Error(), "DAYS: want") {
		t.Fatalf("serving with a bad own setting: %v", err)
	}
	cfg, err := loadConfig(spec, append([]string{"TONGBAN_MIGRATE_ONLY=true"}, bad...))
	if err != nil || !cfg.MigrateOnly || cfg.GRPCAddr != DefaultAddresses.Intake {
		t.Fatalf("migrating: %+v, %v", cfg, err)
	}
}
