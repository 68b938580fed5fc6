// Package app is the common main of the four services: configuration from
// the environment, the JSON logger, the county directory, the database pool
// and migrations, the gRPC server with its interceptors, health, reflection
// and the event feed, then a graceful run. A service supplies only what is
// its own.
package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	auditv1 "github.com/tongban/tongban/proto/tongban/audit/v1"
	directoryv1 "github.com/tongban/tongban/proto/tongban/directory/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/metrics"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/serving"
	"github.com/tongban/tongban/services/platform/tlsconf"
	"github.com/tongban/tongban/services/platform/token"
	"github.com/tongban/tongban/services/platform/tracing"
)

// streamWorkers is how many goroutines of a service's gRPC server stay to
// handle calls, keeping the stacks they grew: with a goroutine per call (the
// default), each call's goroutine grew its stack from the smallest size by
// copying it, a twelfth of intake's CPU during registrations (runtime.
// copystack under the handlers in bench-intake's profile). Calls beyond them
// (the consumers' long polls hold one each) get goroutines of their own.
const streamWorkers = 32

// MaxMessage bounds a gRPC message: room for a 10 MiB attachment.
const MaxMessage = 16 << 20

// Spec describes one service.
type Spec struct {
	// Name is the service and schema name, e.g. "intake".
	Name string
	// Env is the prefix of the service's own variables, e.g. "INTAKE_".
	Env string
	// DefaultGRPC and DefaultHTTP are the loopback addresses used by make run.
	DefaultGRPC, DefaultHTTP string
	// Migrations of the service's schema.
	Migrations pgdb.Migrations
	// Register registers the service's gRPC servers on s and returns its
	// background workers.
	Register func(ctx context.Context, d Deps, s *grpc.Server) ([]func(context.Context) error, error)
	// OwnsDirectory is set for the service that keeps the county's offices
	// (assignment); every other one follows its revisions.
	OwnsDirectory bool
	// PublicMethods answer without a caller (full gRPC method names).
	PublicMethods []string
}

// Deps are what a service's Register gets.
type Deps struct {
	Pool      *pgxpool.Pool
	Directory *directory.Directory
	// Env reads the service's configuration (prefix first, then
	// TONGBAN_name, then def).
	Env func(name, def string) string
	// Dial opens a client connection to another service, with the internal
	// service token.
	Dial func(addr string) (*grpc.ClientConn, error)
	// Metrics is the process's registry, for the service's own gauges.
	Metrics *metrics.Metrics
	// DirectoryRefresh is how often the offices are reread
	// (DIRECTORY_REFRESH).
	DirectoryRefresh time.Duration
	// FeedWait is how long a consumer's read of a drained feed waits for
	// the next event (FEED_WAIT, default 2s; 0: no long poll, a read every
	// 150 ms).
	FeedWait time.Duration
}

// Follow returns a background worker that consumes the event feed of the
// service named feed (its address from <FEED>_ADDR, default addr) and
// applies each event with apply.
func (d Deps) Follow(feed, addr string, apply func(context.Context, pgx.Tx, *eventsv1.Event) error) (func(context.Context) error, error) {
	return d.follow(&outbox.Consumer{Feed: feed, Apply: apply}, addr)
}

// FollowBatches is Follow for a consumer that applies each transaction's
// events as one batch (see outbox.Consumer.Begin).
func (d Deps) FollowBatches(feed, addr string, begin outbox.Begin) (func(context.Context) error, error) {
	return d.follow(&outbox.Consumer{Feed: feed, Begin: begin}, addr)
}

func (d Deps) follow(c *outbox.Consumer, addr string) (func(context.Context) error, error) {
	feed := c.Feed
	c.Wait = d.FeedWait
	if c.Wait == 0 {
		c.Wait = -1 // outbox.Consumer: negative is "no long poll"
	}
	conn, err := d.Dial(d.Env(strings.ToUpper(feed)+"_ADDR", addr))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", feed, err)
	}
	c.Pool, c.Client = d.Pool, eventsv1.NewEventFeedServiceClient(conn)
	if d.Metrics != nil {
		events, lag := d.Metrics.FeedEvents.WithLabelValues(feed), d.Metrics.FeedLag.WithLabelValues(feed)
		c.Observe = func(evs []*eventsv1.Event) {
			if len(evs) == 0 {
				lag.Set(0)
				return
			}
			events.Add(float64(len(evs)))
			lag.Set(time.Since(evs[len(evs)-1].GetOccurTime().AsTime()).Seconds())
		}
	}
	return func(ctx context.Context) error {
		defer conn.Close()
		return c.Run(ctx)
	}, nil
}

// Main runs spec as the process's main and exits non-zero on failure.
func Main(spec Spec) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := logging.NewFromEnv(spec.Name)
	ctx = logging.WithLogger(ctx, logger)
	if err := Run(ctx, spec, os.Getenv); err != nil {
		logger.ErrorContext(ctx, spec.Name+" exited", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

// Run runs the service until ctx ends; getenv is injectable for tests.
func Run(ctx context.Context, spec Spec, getenv func(string) string) error {
	env := func(name, def string) string {
		if v := getenv(spec.Env + name); v != "" {
			return v
		}
		if v := getenv("TONGBAN_" + name); v != "" {
			return v
		}
		return def
	}
	logger := logging.FromContext(ctx)
	stopTracing, err := tracing.Setup(ctx, spec.Name)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer stopTracing(context.WithoutCancel(ctx)) //nolint:errcheck
	dbURL := env("DATABASE_URL", "")
	if dbURL == "" {
		return errors.New("no database: set TONGBAN_DATABASE_URL (or " + spec.Env + "DATABASE_URL)")
	}
	shutdown, err := time.ParseDuration(env("SHUTDOWN_TIMEOUT", "15s"))
	if err != nil {
		return fmt.Errorf("SHUTDOWN_TIMEOUT: %w", err)
	}
	dir, err := directory.Load(env("DIRECTORY", ""))
	if err != nil {
		return err
	}
	refresh, err := time.ParseDuration(env("DIRECTORY_REFRESH", "15s"))
	if err != nil || refresh <= 0 {
		return fmt.Errorf("DIRECTORY_REFRESH: want a positive duration, have %q", env("DIRECTORY_REFRESH", "15s"))
	}
	feedWait, err := time.ParseDuration(env("FEED_WAIT", "2s"))
	if err != nil || feedWait < 0 || feedWait > 30*time.Second {
		return fmt.Errorf("FEED_WAIT: want a duration from 0 to 30s, have %q", env("FEED_WAIT", "2s"))
	}
	grpcL, httpL, err := serving.Listen(env("GRPC_ADDR", spec.DefaultGRPC), env("HTTP_ADDR", spec.DefaultHTTP))
	if err != nil {
		return err
	}

	pool, err := pgdb.Open(ctx, dbURL, spec.Name)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, spec.Name, spec.Migrations); err != nil {
		return err
	}
	logger.InfoContext(ctx, "migrations applied", slog.String("schema", spec.Name), slog.String("county", dir.County.Code))
	if env("MIGRATE_ONLY", "") == "true" {
		// A migration Job (deploy/): apply the schema and stop; the
		// service's replicas then find it current.
		grpcL.Close()
		httpL.Close()
		return nil
	}

	tlsConf, err := tlsconf.FromEnv(env)
	if err != nil {
		return err
	}
	// The internal service credential: no default, so a service cannot
	// come up accepting (or sending) a credential everyone knows.
	serviceToken := env("SERVICE_TOKEN", "")
	if len(serviceToken) < 16 {
		return errors.New("no service credential: set TONGBAN_SERVICE_TOKEN (at least 16 characters, the same for every process; " +
			"make run and make test generate one, deploy/ takes it from the Secret tongban-service-token)")
	}
	pagination.SetKey(DeriveKey(serviceToken, "page tokens"))
	authn := auth.New(dir).WithPublic(spec.PublicMethods...).WithService(serviceToken)
	if env("DEMO_TOKENS", "") == "true" {
		logger.WarnContext(ctx, "DEMO TOKENS ON: the directory's static demo tokens are accepted; never in production")
		authn.WithDemoTokens()
	}
	dial := func(addr string) (*grpc.ClientConn, error) {
		return grpc.NewClient(addr, grpc.WithTransportCredentials(tlsConf.Client()), auth.ServiceCredential(serviceToken),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	}
	// Accounts' access tokens, signed by the gateway, verified here with
	// the public keys alone and refused once the gateway says they were
	// revoked (read every REVOCATION_REFRESH).
	var revocations *auth.Revocations
	var followRevocations func(context.Context) error
	if keys := env("TOKEN_PUBLIC_KEYS", ""); keys != "" {
		v, err := token.NewVerifier(keys)
		if err != nil {
			return fmt.Errorf("TONGBAN_TOKEN_PUBLIC_KEYS: %w", err)
		}
		every, err := time.ParseDuration(env("REVOCATION_REFRESH", "1s"))
		if err != nil || every <= 0 || every > time.Second {
			return fmt.Errorf("REVOCATION_REFRESH: want a positive duration of at most 1s (revocation holds within 2 s), have %q", env("REVOCATION_REFRESH", "1s"))
		}
		revocations = &auth.Revocations{}
		authn.WithTokens(v).WithRevocations(revocations)
		conn, err := dial(env("GATEWAY_ADDR", "127.0.0.1:8081"))
		if err != nil {
			return fmt.Errorf("dial the gateway: %w", err)
		}
		followRevocations = func(ctx context.Context) error {
			defer conn.Close()
			return auth.FollowRevocations(ctx, revocations, accountsv1.NewRevocationServiceClient(conn), every)
		}
	}
	m := metrics.New(spec.Name)
	m.Gauge("tongban_outbox_events", "Events this service has written to its outbox (the feed's newest position).", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var n int64
		_ = pool.QueryRow(ctx, `SELECT COALESCE(max(position), 0) FROM outbox`).Scan(&n)
		return float64(n)
	})
	unary := []grpc.UnaryServerInterceptor{
		m.UnaryServerInterceptor(),
		logging.UnaryServerInterceptor(logger),
		recoverUnary,
		authn.UnaryServerInterceptor(),
	}
	if key := getenv(democlock.Env); key != "" && democlock.Compiled {
		logger.WarnContext(ctx, "DEMO CLOCK ON: the demo loader may backdate moves with the "+democlock.Header+" header; never in production")
	} else if key != "" {
		logger.WarnContext(ctx, democlock.Env+" is set but this build has no demo clock: every demo time is refused")
	}
	// Always installed: it refuses a demo time the build, the service's
	// settings or the call do not allow.
	unary = append(unary, democlock.UnaryServerInterceptor(getenv(democlock.Env)))
	srv := grpc.NewServer(
		grpc.Creds(tlsConf.Server()),
		grpc.MaxRecvMsgSize(MaxMessage),
		grpc.NumStreamWorkers(streamWorkers),
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(m.StreamServerInterceptor(), logging.StreamServerInterceptor(logger), authn.StreamServerInterceptor()),
	)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	// Waiting readers are answered when the service starts to stop, so
	// that a long poll does not hold up the graceful stop.
	eventsv1.RegisterEventFeedServiceServer(srv, &outbox.FeedServer{Pool: pool, Stopping: ctx.Done()})
	auditv1.RegisterAuditServiceServer(srv, &audit.Server{Pool: pool, Dir: dir})

	deps := Deps{
		Pool:             pool,
		Directory:        dir,
		Env:              env,
		Dial:             dial,
		Metrics:          m,
		DirectoryRefresh: refresh,
		FeedWait:         feedWait,
	}
	workers, err := spec.Register(ctx, deps, srv)
	if err != nil {
		return err
	}
	if err := Scoped(srv); err != nil {
		return err
	}
	if followRevocations != nil {
		workers = append(workers, followRevocations)
	}
	signer, err := HeadSigner(env, pool, spec.Name, "")
	if err != nil {
		return err
	}
	if signer != nil {
		workers = append(workers, signer.Run)
	} else {
		logger.WarnContext(ctx, "the audit chains' heads are not signed: set TONGBAN_AUDIT_SIGNING_KEY and TONGBAN_AUDIT_HEADS_DIR")
	}
	if !spec.OwnsDirectory {
		// The offices administrators change through assignment's
		// OfficeService reach this process within DIRECTORY_REFRESH.
		conn, err := deps.Dial(env("ASSIGNMENT_ADDR", "127.0.0.1:7201"))
		if err != nil {
			return fmt.Errorf("dial the directory: %w", err)
		}
		workers = append(workers, func(ctx context.Context) error {
			defer conn.Close()
			return directory.Follow(ctx, dir, directoryv1.NewOfficeServiceClient(conn), refresh)
		})
	}
	s := &serving.Server{
		GRPC: srv, Health: hs, GRPCListener: grpcL, HTTPListener: httpL,
		Ready:           func(ctx context.Context) error { return pool.Ping(ctx) },
		ShutdownTimeout: shutdown,
	}
	// Metrics on the side port, which only the cluster reaches (deploy/).
	s.Handlers = map[string]http.Handler{"GET /metrics": m.Handler()}
	if revocations != nil {
		// Whether accounts' tokens are accepted: the revocations are
		// current (make run and the tests wait for it after the gateway
		// starts).
		s.Handlers["GET /revocationz"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if !revocations.Fresh(time.Now()) {
				http.Error(w, "revocations not read yet", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ok\n")) //nolint:errcheck
		})
	}
	if env("PPROF", "") == "true" {
		// Profiles on the side port (loopback by default), for benchmarks.
		s.Handlers["/debug/pprof/"] = http.HandlerFunc(pprof.Index)
		s.Handlers["/debug/pprof/profile"] = http.HandlerFunc(pprof.Profile)
	}
	return s.Run(ctx, workers...)
}

// DeriveKey derives a 32-byte key for one purpose from the installation's
// service credential (HKDF, RFC 5869), so that a secret every process
// already shares also keys what every replica must agree on (page tokens)
// without a second secret to distribute.
func DeriveKey(secret, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(secret), nil, "tongban "+purpose, 32)
	if err != nil {
		panic(err) // only for a length SHA-256 cannot give
	}
	return k
}

// Scoped refuses a server that registers a Tongban method without a
// visibility scope in policy.Methods: such a method is not served at all.
func Scoped(srv *grpc.Server) error {
	var missing []string
	for svc, info := range srv.GetServiceInfo() {
		if !strings.HasPrefix(svc, "tongban.") {
			continue // health, reflection
		}
		for _, m := range info.Methods {
			if _, ok := policy.Methods["/"+svc+"/"+m.Name]; !ok {
				missing = append(missing, "/"+svc+"/"+m.Name)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("methods without a visibility scope in policy.Methods: %s", strings.Join(missing, ", "))
	}
	return nil
}

// HeadSigner is the signer of a schema's audit chain heads (audit.HeadSigner)
// from AUDIT_SIGNING_KEY and AUDIT_HEADS_DIR (env as Run's); nil when
// neither is set. The key never comes from the database, and the directory
// should be storage its owner cannot rewrite (deploy/).
func HeadSigner(env func(name, def string) string, pool *pgxpool.Pool, service, schema string) (*audit.HeadSigner, error) {
	keyText, dir := env("AUDIT_SIGNING_KEY", ""), env("AUDIT_HEADS_DIR", "")
	if keyText == "" && dir == "" {
		return nil, nil
	}
	if keyText == "" || dir == "" {
		return nil, errors.New("TONGBAN_AUDIT_SIGNING_KEY and TONGBAN_AUDIT_HEADS_DIR go together: set both, or neither")
	}
	key, err := audit.ParseSigningKey(keyText)
	if err != nil {
		return nil, fmt.Errorf("TONGBAN_AUDIT_SIGNING_KEY: %w", err)
	}
	return &audit.HeadSigner{Pool: pool, Service: service, Schema: schema, Key: key, Dir: dir}, nil
}

// recoverUnary turns a handler panic into Internal, logging the stack
// server-side only.
func recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			logging.FromContext(ctx).ErrorContext(ctx, "panic", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	return handler(ctx, req)
}
