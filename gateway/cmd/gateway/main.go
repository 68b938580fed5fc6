// Command gateway serves Tongban's REST API (grpc-gateway) in front of the
// four services.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/tongban/tongban/gateway"
	"github.com/tongban/tongban/gateway/accounts"
	"github.com/tongban/tongban/gateway/accounts/migrations"
	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	directoryv1 "github.com/tongban/tongban/proto/tongban/directory/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/tlsconf"
	"github.com/tongban/tongban/services/platform/token"
	"github.com/tongban/tongban/services/platform/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := logging.NewFromEnv("gateway")
	ctx = logging.WithLogger(ctx, logger)
	if err := realMain(ctx, logger); err != nil {
		logger.ErrorContext(ctx, "gateway exited", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func realMain(ctx context.Context, logger *slog.Logger) error {
	stopTracing, err := tracing.Setup(ctx, "gateway")
	if err != nil {
		return err
	}
	defer stopTracing(context.WithoutCancel(ctx)) //nolint:errcheck
	// TLS to the services (mutual when they require it), from
	// TONGBAN_TLS_CERT_FILE, _KEY_FILE and _CA_FILE.
	tlsConf, err := tlsconf.FromEnv(func(name, def string) string { return env("TONGBAN_"+name, def) })
	if err != nil {
		return err
	}
	// The internal service credential, for the gateway's own calls (the
	// directory) and to refuse it at the edge; no default.
	serviceToken := env("TONGBAN_SERVICE_TOKEN", "")
	if len(serviceToken) < 16 {
		return errors.New("no service credential: set TONGBAN_SERVICE_TOKEN (at least 16 characters, the same for every process; " +
			"make run and make test generate one, deploy/ takes it from the Secret tongban-service-token)")
	}
	pagination.SetKey(app.DeriveKey(serviceToken, "page tokens")) // the audit log's pages
	accts, closeAccounts, err := accountService(ctx, logger)
	if err != nil {
		return err
	}
	defer closeAccounts()
	if accts != nil {
		// Accounts act for offices: follow the directory administrators
		// change through assignment's OfficeService.
		stopFollowing, err := followDirectory(ctx, accts.Dir, env("TONGBAN_ASSIGNMENT_ADDR", "127.0.0.1:7201"), tlsConf, serviceToken)
		if err != nil {
			return err
		}
		defer stopFollowing()
		// The revocations, for the services, on an internal gRPC port.
		stopRevocations, err := serveRevocations(ctx, logger, accts, serviceToken, tlsConf)
		if err != nil {
			return err
		}
		defer stopRevocations()
	}
	g, err := gateway.New(ctx, gateway.Backends{
		Intake:     env("TONGBAN_INTAKE_ADDR", "127.0.0.1:7101"),
		Assignment: env("TONGBAN_ASSIGNMENT_ADDR", "127.0.0.1:7201"),
		Scheduling: env("TONGBAN_SCHEDULING_ADDR", "127.0.0.1:7301"),
		Reporting:  env("TONGBAN_REPORTING_ADDR", "127.0.0.1:7401"),
		Transport:  tlsConf.Client(),
		Accounts:   accts,
	})
	if err != nil {
		return err
	}
	defer g.Close()
	// Requests a second per caller (token, or address without one): a
	// flood from one integrator cannot starve the county's offices.
	perToken, err := strconv.ParseFloat(env("GATEWAY_RATE_PER_TOKEN", "1000"), 64)
	if err != nil {
		return fmt.Errorf("GATEWAY_RATE_PER_TOKEN: %w", err)
	}
	l, err := net.Listen("tcp", env("GATEWAY_HTTP_ADDR", "127.0.0.1:8080"))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(logger, gateway.RefuseCredential(serviceToken, gateway.RateLimit(g, perToken))),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if addr := env("GATEWAY_PPROF_ADDR", ""); addr != "" {
		// CPU profiles on a listener of their own (loopback), for benchmarks.
		pl, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("GATEWAY_PPROF_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		ps := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go ps.Serve(pl) //nolint:errcheck // closed with the process
		defer ps.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	logger.InfoContext(ctx, "serving", slog.String("http", l.Addr().String()))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.InfoContext(ctx, "shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// logRequests logs method, path, status and duration of each request; never
// bodies, query strings or headers (tokens, identity).
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.InfoContext(r.Context(), "http", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)))
	})
}

// followDirectory keeps dir at assignment's revision of the offices until
// the returned stop is called, asking as the internal service
// (TONGBAN_SERVICE_TOKEN) every TONGBAN_DIRECTORY_REFRESH.
func followDirectory(ctx context.Context, dir *directory.Directory, addr string, tlsConf *tlsconf.Config, serviceToken string) (func(), error) {
	every, err := time.ParseDuration(env("TONGBAN_DIRECTORY_REFRESH", "15s"))
	if err != nil || every <= 0 {
		return nil, fmt.Errorf("TONGBAN_DIRECTORY_REFRESH: want a positive duration, have %q", env("TONGBAN_DIRECTORY_REFRESH", ""))
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(tlsConf.Client()),
		auth.ServiceCredential(serviceToken))
	if err != nil {
		return nil, fmt.Errorf("dial the directory: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		directory.Follow(ctx, dir, directoryv1.NewOfficeServiceClient(conn), every) //nolint:errcheck // returns when ctx ends
	}()
	return func() {
		cancel()
		<-done
		conn.Close()
	}, nil
}

// serveRevocations serves tongban.accounts.v1.RevocationService on
// GATEWAY_GRPC_ADDR (the cluster only, never the public edge; mutual TLS
// when TONGBAN_TLS_* is set) to callers with the service credential.
func serveRevocations(ctx context.Context, logger *slog.Logger, accts *accounts.Service, serviceToken string, tlsConf *tlsconf.Config) (func(), error) {
	l, err := net.Listen("tcp", env("GATEWAY_GRPC_ADDR", "127.0.0.1:8081"))
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_GRPC_ADDR: %w", err)
	}
	authn := auth.New(accts.Dir).WithService(serviceToken)
	srv := grpc.NewServer(grpc.Creds(tlsConf.Server()),
		grpc.ChainUnaryInterceptor(logging.UnaryServerInterceptor(logger), authn.UnaryServerInterceptor()))
	accountsv1.RegisterRevocationServiceServer(srv, &accounts.Revocations{Accounts: accts})
	reflection.Register(srv) // an internal port, as the services' are
	if err := app.Scoped(srv); err != nil {
		l.Close()
		return nil, err
	}
	go srv.Serve(l) //nolint:errcheck // stopped below
	logger.InfoContext(ctx, "serving revocations", slog.String("grpc", l.Addr().String()))
	return srv.Stop, nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush passes a streaming response's flushes through (a watch).
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accountService opens the accounts schema and the token keys when
// TONGBAN_TOKEN_SIGNING_KEYS is set (sign-in, accounts, API keys); without
// it the gateway serves the directory's static tokens only.
func accountService(ctx context.Context, logger *slog.Logger) (*accounts.Service, func(), error) {
	keys := env("TONGBAN_TOKEN_SIGNING_KEYS", "")
	if keys == "" {
		logger.WarnContext(ctx, "accounts are off: set TONGBAN_TOKEN_SIGNING_KEYS (and TONGBAN_TOKEN_KEY_ID) to sign people in")
		return nil, func() {}, nil
	}
	ttl, err := time.ParseDuration(env("TONGBAN_TOKEN_TTL", "15m"))
	if err != nil || ttl <= 0 {
		return nil, nil, fmt.Errorf("TONGBAN_TOKEN_TTL: want a duration such as 15m")
	}
	signer, err := token.NewSigner(keys, env("TONGBAN_TOKEN_KEY_ID", ""), ttl)
	if err != nil {
		return nil, nil, fmt.Errorf("TONGBAN_TOKEN_SIGNING_KEYS / TONGBAN_TOKEN_KEY_ID: %w", err)
	}
	public, err := token.PublicKeys(keys)
	if err != nil {
		return nil, nil, err
	}
	verifier, err := token.NewVerifier(public)
	if err != nil {
		return nil, nil, err
	}
	dir, err := directory.Load(env("TONGBAN_DIRECTORY", ""))
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgdb.Open(ctx, env("TONGBAN_DATABASE_URL", ""), "accounts")
	if err != nil {
		return nil, nil, err
	}
	if err := pgdb.Migrate(ctx, pool, "accounts", migrations.Set); err != nil {
		pool.Close()
		return nil, nil, err
	}
	svc := &accounts.Service{Pool: pool, Dir: dir, Signer: signer, Verifier: verifier}
	heads, err := app.HeadSigner(func(name, def string) string { return env("TONGBAN_"+name, def) }, pool, "gateway", "accounts")
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if heads != nil {
		go heads.Run(ctx) //nolint:errcheck // logs its failures; ends with ctx
	} else {
		logger.WarnContext(ctx, "the accounts' audit chain heads are not signed: set TONGBAN_AUDIT_SIGNING_KEY and TONGBAN_AUDIT_HEADS_DIR")
	}
	if spec := env("TONGBAN_BOOTSTRAP_ADMIN", ""); spec != "" {
		if err := svc.Bootstrap(ctx, spec); err != nil {
			pool.Close()
			return nil, nil, err
		}
	}
	return svc, pool.Close, nil
}
