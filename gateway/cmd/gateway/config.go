package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/tlsconf"
)

// config is the gateway's whole configuration, read at start: each setting
// from GATEWAY_NAME, else TONGBAN_NAME, else its default.
type config struct {
	// HTTPAddr is the public edge; GRPCAddr the internal port the services
	// read revocations from (the cluster only).
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	GRPCAddr string `env:"GRPC_ADDR"` // default: app.DefaultAddresses.Gateway
	// PProfAddr serves CPU profiles on a listener of its own (benchmarks).
	PProfAddr string `env:"PPROF_ADDR"`
	// RatePerToken is the requests a second per caller (token, or address
	// without one): a flood from one integrator cannot starve the offices.
	RatePerToken float64 `env:"RATE_PER_TOKEN" envDefault:"1000"`
	// ServiceToken is the internal service credential, for the gateway's
	// own calls and to refuse it at the edge; no default.
	ServiceToken string `env:"SERVICE_TOKEN" json:"-"`
	// TokenSigningKeys turn accounts on (sign-in, accounts, API keys);
	// without them the gateway serves the directory's static tokens only.
	TokenSigningKeys string        `env:"TOKEN_SIGNING_KEYS" json:"-"`
	TokenKeyID       string        `env:"TOKEN_KEY_ID"`
	TokenTTL         time.Duration `env:"TOKEN_TTL" envDefault:"15m"`
	DatabaseURL      string        `env:"DATABASE_URL" json:"-"`
	Directory        string        `env:"DIRECTORY"`
	DirectoryRefresh time.Duration `env:"DIRECTORY_REFRESH" envDefault:"15s"`
	AuditSigningKey  string        `env:"AUDIT_SIGNING_KEY" json:"-"`
	AuditHeadsDir    string        `env:"AUDIT_HEADS_DIR"`
	// BootstrapAdmin ("user:password") creates the first administrator.
	BootstrapAdmin string `env:"BOOTSTRAP_ADMIN" json:"-"`
	TLS            tlsconf.Settings
	Addrs          app.Addresses
}

func defaults() config {
	return config{GRPCAddr: app.DefaultAddresses.Gateway, Addrs: app.DefaultAddresses}
}

// Validate reports every setting that is wrong, each by the name to set.
func (c *config) Validate() error {
	var errs []error
	if err := app.CheckServiceToken(c.ServiceToken); err != nil {
		errs = append(errs, err)
	}
	if c.RatePerToken <= 0 {
		errs = append(errs, fmt.Errorf("GATEWAY_RATE_PER_TOKEN: want a positive number of requests a second, have %v", c.RatePerToken))
	}
	if c.TokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("TONGBAN_TOKEN_TTL: want a duration such as 15m, have %v", c.TokenTTL))
	}
	if c.DirectoryRefresh <= 0 {
		errs = append(errs, fmt.Errorf("TONGBAN_DIRECTORY_REFRESH: want a positive duration, have %v", c.DirectoryRefresh))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
