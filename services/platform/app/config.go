package app

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/tongban/tongban/services/platform/tlsconf"
)

// Addresses are the gRPC addresses of the processes (INTAKE_ADDR …).
type Addresses struct {
	Intake     string `env:"INTAKE_ADDR"`
	Assignment string `env:"ASSIGNMENT_ADDR"`
	Scheduling string `env:"SCHEDULING_ADDR"`
	Reporting  string `env:"REPORTING_ADDR"`
	// Gateway is the gateway's internal gRPC port (revocations).
	Gateway string `env:"GATEWAY_ADDR"`
}

// DefaultAddresses are the loopback addresses of make run, in this one
// place: what a process dials by default and where a service listens.
var DefaultAddresses = Addresses{
	Intake:     "127.0.0.1:7101",
	Assignment: "127.0.0.1:7201",
	Scheduling: "127.0.0.1:7301",
	Reporting:  "127.0.0.1:7401",
	Gateway:    "127.0.0.1:8081",
}

// Of is the address of the service named name ("assignment").
func (a Addresses) Of(name string) string {
	switch name {
	case "intake":
		return a.Intake
	case "assignment":
		return a.Assignment
	case "scheduling":
		return a.Scheduling
	case "reporting":
		return a.Reporting
	}
	panic("app: no service " + name) // a programming error: feeds are named in code
}

// Config is what every service reads at start, before it opens anything.
// Each setting is read as <SERVICE>_NAME, else TONGBAN_NAME, else its
// default; secrets are tagged json:"-" so that the struct can be logged.
type Config struct {
	DatabaseURL     string        `env:"DATABASE_URL" json:"-"`
	GRPCAddr        string        `env:"GRPC_ADDR"` // default: the service's in DefaultAddresses
	HTTPAddr        string        `env:"HTTP_ADDR"` // health, metrics; default: the Spec's
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// Directory is the county's directory file ("": the demo county).
	Directory string `env:"DIRECTORY"`
	// DirectoryRefresh is how often the offices are reread.
	DirectoryRefresh time.Duration `env:"DIRECTORY_REFRESH" envDefault:"15s"`
	// FeedWait is how long a consumer's read of a drained feed waits for
	// the next event (0: no long poll, a read every 150 ms).
	FeedWait time.Duration `env:"FEED_WAIT" envDefault:"2s"`
	// MigrateOnly applies the schema and stops (deploy/'s migration Job).
	MigrateOnly bool `env:"MIGRATE_ONLY"`
	// ServiceToken is the installation's internal service credential: no
	// default, so that no service accepts one everyone knows.
	ServiceToken string `env:"SERVICE_TOKEN" json:"-"`
	// DemoTokens accepts the directory's static demo tokens; never in
	// production.
	DemoTokens bool `env:"DEMO_TOKENS"`
	// TokenPublicKeys verify accounts' access tokens ("": no accounts).
	TokenPublicKeys string `env:"TOKEN_PUBLIC_KEYS"`
	// RevocationRefresh is how often the gateway's revocations are read
	// (at most 1s: revocation holds within 2 s).
	RevocationRefresh time.Duration `env:"REVOCATION_REFRESH" envDefault:"1s"`
	AuditSigningKey   string        `env:"AUDIT_SIGNING_KEY" json:"-"`
	AuditHeadsDir     string        `env:"AUDIT_HEADS_DIR"`
	// DemoClockKey lets the demo loader backdate calls (democlock.Env;
	// builds without the tongbandemo tag refuse every demo time).
	DemoClockKey string `env:"DEMO_CLOCK_KEY" json:"-"`
	// PProf serves profiles on the side port (benchmarks).
	PProf bool `env:"PPROF"`
	TLS   tlsconf.Settings
	Addrs Addresses
}

// Validate reports every setting that is wrong, each by the name to set.
func (c *Config) Validate() error {
	var errs []error
	bad := func(name, want string, have any) {
		errs = append(errs, fmt.Errorf("%s: want %s, have %v", name, want, have))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("no database: set TONGBAN_DATABASE_URL"))
	}
	if err := CheckServiceToken(c.ServiceToken); err != nil {
		errs = append(errs, err)
	}
	if c.DirectoryRefresh <= 0 {
		bad("DIRECTORY_REFRESH", "a positive duration", c.DirectoryRefresh)
	}
	if c.FeedWait < 0 || c.FeedWait > 30*time.Second {
		bad("FEED_WAIT", "a duration from 0 to 30s", c.FeedWait)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "a positive duration", c.ShutdownTimeout)
	}
	if c.TokenPublicKeys != "" && (c.RevocationRefresh <= 0 || c.RevocationRefresh > time.Second) {
		bad("REVOCATION_REFRESH", "a positive duration of at most 1s (revocation holds within 2 s)", c.RevocationRefresh)
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckServiceToken refuses an internal service credential too short to be
// a secret.
func CheckServiceToken(token string) error {
	if len(token) < 16 {
		return errors.New("no service credential: set TONGBAN_SERVICE_TOKEN (at least 16 characters, the same for every process; " +
			"make run and make test generate one, deploy/ takes it from the Secret tongban-service-token)")
	}
	return nil
}

// Load fills cfg, a pointer to a struct whose fields carry env tags (and
// envDefault tags for their defaults), from environ (os.Environ's form): a
// variable prefix+NAME ("INTAKE_FEED_WAIT") wins over TONGBAN_NAME; empty
// values count as unset. Every value that does not parse is reported, by
// the variable's name, and then cfg's own Validate, when it has one.
func Load(cfg any, prefix string, environ []string) error {
	vars := map[string]string{}
	for _, p := range []string{"TONGBAN_", prefix} {
		for _, kv := range environ {
			k, v, _ := strings.Cut(kv, "=")
			if name, ok := strings.CutPrefix(k, p); ok && p != "" && v != "" {
				vars[name] = v
			}
		}
	}
	if err := env.ParseWithOptions(cfg, env.Options{Environment: vars}); err != nil {
		var agg env.AggregateError
		if !errors.As(err, &agg) {
			return err
		}
		keys := envKeys(reflect.TypeOf(cfg).Elem())
		var errs []error
		for _, e := range agg.Errors {
			var pe env.ParseError
			if errors.As(e, &pe) {
				errs = append(errs, fmt.Errorf("%s%s (or TONGBAN_%[2]s): %v", prefix, keys[pe.Name], pe.Err))
				continue
			}
			errs = append(errs, e)
		}
		return errors.Join(errs...)
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// envKeys maps each field name of t (nested structs included) to its
// variable, for the messages: the library names a field that does not
// parse by its Go name.
func envKeys(t reflect.Type) map[string]string {
	keys := map[string]string{}
	for i := range t.NumField() {
		f := t.Field(i)
		if k, _, _ := strings.Cut(f.Tag.Get("env"), ","); k != "" {
			keys[f.Name] = k
		} else if f.Type.Kind() == reflect.Struct {
			for n, k := range envKeys(f.Type) {
				keys[n] = k
			}
		}
	}
	return keys
}
