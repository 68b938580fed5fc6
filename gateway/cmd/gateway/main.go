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
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/platform/tlsconf"
	"github.com/tongban/tongban/services/platform/token"
	"github.com/tongban/tongban/services/platform/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := logging.NewFromEnv("gateway")
	ctx = logging.WithLogger(ctx, logger)
	cfg := defaults()
	if err := app.Load(&cfg, "GATEWAY_", os.Environ()); err != nil {
		logger.ErrorContext(ctx, "gateway exited", slog.String("error", "configuration:\n"+err.Error()))
		os.Exit(1)
	}
	if err := realMain(ctx, logger, cfg); err != nil {
		logger.ErrorContext(ctx, "gateway exited", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

func realMain(ctx context.Context, logger *slog.Logger, cfg config) error {
	stopTracing, err := tracing.Setup(ctx, "gateway")
	if err != nil {
		return err
	}
	defer stopTracing(context.WithoutCancel(ctx)) //nolint:errcheck
	// TLS to the services (mutual when they require it).
	tlsConf, err := cfg.TLS.Load()
	if err != nil {
		return err
	}
	serviceToken := cfg.ServiceToken
	pagination.SetKey(app.DeriveKey(serviceToken, "page tokens")) // the audit log's pages
	accts, closeAccounts, err := accountService(ctx, logger, cfg)
	if err != nil {
		return err
	}
	defer closeAccounts()
	if accts != nil {
		// Accounts act for offices: follow the directory administrators
		// change through assignment's OfficeService.
		stopFollowing, err := followDirectory(ctx, accts.Dir, cfg.Addrs.Assignment, cfg.DirectoryRefresh, tlsConf, serviceToken)
		if err != nil {
			return err
		}
		defer stopFollowing()
		// The revocations, for the services, on an internal gRPC port.
		stopRevocations, err := serveRevocations(ctx, logger, cfg.GRPCAddr, accts, serviceToken, tlsConf)
		if err != nil {
			return err
		}
		defer stopRevocations()
	}
	g, err := gateway.New(ctx, gateway.Backends{
		Intake:     cfg.Addrs.Intake,
		Assignment: cfg.Addrs.Assignment,
		Scheduling: cfg.Addrs.Scheduling,
		Reporting:  cfg.Addrs.Reporting,
		Transport:  tlsConf.Client(),
		Accounts:   accts,
	})
	if err != nil {
		return err
	}
	defer g.Close()
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(logger, gateway.RefuseCredential(serviceToken, gateway.RateLimit(g, cfg.RatePerToken))),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if addr := cfg.PProfAddr; addr != "" {
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
func followDirectory(ctx context.Context, dir *directory.Directory, addr string, every time.Duration, tlsConf *tlsconf.Config, serviceToken string) (func(), error) {
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
func serveRevocations(ctx context.Context, logger *slog.Logger, addr string, accts *accounts.Service, serviceToken string, tlsConf *tlsconf.Config) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_GRPC_ADDR: %w", err)
	}
	authn := auth.New(accts.Dir).WithService(serviceToken)
	srv := grpc.NewServer(grpc.Creds(tlsConf.Server()),
		grpc.ChainUnaryInterceptor(logging.UnaryServerInterceptor(logger), rpcerr.UnaryServerInterceptor(), authn.UnaryServerInterceptor()))
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
func accountService(ctx context.Context, logger *slog.Logger, cfg config) (*accounts.Service, func(), error) {
	keys := cfg.TokenSigningKeys
	if keys == "" {
		logger.WarnContext(ctx, "accounts are off: set TONGBAN_TOKEN_SIGNING_KEYS (and TONGBAN_TOKEN_KEY_ID) to sign people in")
		return nil, func() {}, nil
	}
	signer, err := token.NewSigner(keys, cfg.TokenKeyID, cfg.TokenTTL)
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
	dir, err := directory.Load(cfg.Directory)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgdb.Open(ctx, cfg.DatabaseURL, "accounts")
	if err != nil {
		return nil, nil, err
	}
	if err := pgdb.Migrate(ctx, pool, "accounts", migrations.Set); err != nil {
		pool.Close()
		return nil, nil, err
	}
	svc := &accounts.Service{Pool: pool, Dir: dir, Signer: signer, Verifier: verifier}
	heads, err := app.HeadSigner(cfg.AuditSigningKey, cfg.AuditHeadsDir, pool, "gateway", "accounts")
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if heads != nil {
		go heads.Run(ctx) //nolint:errcheck // logs its failures; ends with ctx
	} else {
		logger.WarnContext(ctx, "the accounts' audit chain heads are not signed: set TONGBAN_AUDIT_SIGNING_KEY and TONGBAN_AUDIT_HEADS_DIR")
	}
	if spec := cfg.BootstrapAdmin; spec != "" {
		if err := svc.Bootstrap(ctx, spec); err != nil {
			pool.Close()
			return nil, nil, err
		}
	}
	return svc, pool.Close, nil
}
