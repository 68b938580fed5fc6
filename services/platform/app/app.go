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

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	auditv1 "github.com/tongban/tongban/proto/tongban/audit/v1"
	directoryv1 "github.com/tongban/tongban/proto/tongban/directory/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/metrics"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
	"github.com/tongban/tongban/services/platform/rpcerr"
	"github.com/tongban/tongban/services/platform/serving"
	"github.com/tongban/tongban/services/platform/token"
	"github.com/tongban/tongban/services/platform/tracing"
)

// streamWorkers is how many goroutines of a service's gRPC server stay to
// handle calls, keeping the stacks they grew: a goroutine per call (the
// default) grows each call's stack anew by copying (docs/performance.md).
// Calls beyond them (the consumers' long polls) get goroutines of their own.
const streamWorkers = 32

// MaxMessage bounds a gRPC message: room for a 10 MiB attachment.
const MaxMessage = 16 << 20

// Spec describes one service.
type Spec struct {
	// Name is the service and schema name, e.g. "intake".
	Name string
	// Env is the prefix of the service's own variables, e.g. "INTAKE_".
	Env string
	// DefaultHTTP is the loopback address of the side port (health,
	// metrics) under make run; the gRPC one is in DefaultAddresses.
	DefaultHTTP string
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
	// Config, when set, is the service's own configuration: a pointer to a
	// struct with env tags, read (and validated, when it has a Validate
	// method) with Config before anything starts, for Register to use.
	Config any
}

// Deps are what a service's Register gets.
type Deps struct {
	Pool      *pgxpool.Pool
	Directory *directory.Directory
	// Config is the process's configuration, read and validated at start.
	Config Config
	// Dial opens a client connection to another service, with the internal
	// service token.
	Dial func(addr string) (*grpc.ClientConn, error)
	// Metrics is the process's registry, for the service's own gauges.
	Metrics *metrics.Metrics
}

// Follow returns a background worker that consumes the event feed of the
// service named feed (at its address in Config.Addrs) and applies each
// event with apply.
func (d Deps) Follow(feed string, apply func(context.Context, pgx.Tx, *eventsv1.Event) error) (func(context.Context) error, error) {
	return d.follow(&outbox.Consumer{Feed: feed, Apply: apply})
}

// FollowBatches is Follow for a consumer that applies each transaction's
// events as one batch (see outbox.Consumer.Begin).
func (d Deps) FollowBatches(feed string, begin outbox.Begin) (func(context.Context) error, error) {
	return d.follow(&outbox.Consumer{Feed: feed, Begin: begin})
}

func (d Deps) follow(c *outbox.Consumer) (func(context.Context) error, error) {
	feed := c.Feed
	c.Wait = d.Config.FeedWait
	if c.Wait == 0 {
		c.Wait = -1 // outbox.Consumer: negative is "no long poll"
	}
	conn, err := d.Dial(d.Config.Addrs.Of(feed))
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
	if err := Run(ctx, spec, os.Environ()); err != nil {
		logger.ErrorContext(ctx, spec.Name+" exited", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

// loadConfig reads the process's configuration: Config, and the service's
// own unless the process only migrates (deploy/'s migration Jobs carry the
// database and the credential, not what serving needs).
func loadConfig(spec Spec, environ []string) (Config, error) {
	cfg := Config{GRPCAddr: DefaultAddresses.Of(spec.Name), HTTPAddr: spec.DefaultHTTP, Addrs: DefaultAddresses}
	err := Load(&cfg, spec.Env, environ)
	if spec.Config != nil && !cfg.MigrateOnly {
		err = errors.Join(err, Load(spec.Config, spec.Env, environ))
	}
	if err != nil {
		return cfg, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, nil
}

// Run runs the service until ctx ends, configured from environ (os.Environ's
// form; injectable for tests).
func Run(ctx context.Context, spec Spec, environ []string) error {
	cfg, err := loadConfig(spec, environ)
	if err != nil {
		return err
	}
	logger := logging.FromContext(ctx)
	stopTracing, err := tracing.Setup(ctx, spec.Name)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer stopTracing(context.WithoutCancel(ctx)) //nolint:errcheck
	dir, err := directory.Load(cfg.Directory)
	if err != nil {
		return err
	}
	grpcL, httpL, err := serving.Listen(cfg.GRPCAddr, cfg.HTTPAddr)
	if err != nil {
		return err
	}

	pool, err := pgdb.Open(ctx, cfg.DatabaseURL, spec.Name)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgdb.Migrate(ctx, pool, spec.Name, spec.Migrations); err != nil {
		return err
	}
	logger.InfoContext(ctx, "migrations applied", slog.String("schema", spec.Name), slog.String("county", dir.County.Code))
	if cfg.MigrateOnly {
		// A migration Job (deploy/): apply the schema and stop; the
		// service's replicas then find it current.
		grpcL.Close()
		httpL.Close()
		return nil
	}

	tlsConf, err := cfg.TLS.Load()
	if err != nil {
		return err
	}
	serviceToken := cfg.ServiceToken
	pagination.SetKey(DeriveKey(serviceToken, "page tokens"))
	authn := auth.New(dir).WithPublic(spec.PublicMethods...).WithService(serviceToken)
	if cfg.DemoTokens {
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
	if cfg.TokenPublicKeys != "" {
		v, err := token.NewVerifier(cfg.TokenPublicKeys)
		if err != nil {
			return fmt.Errorf("TONGBAN_TOKEN_PUBLIC_KEYS: %w", err)
		}
		revocations = &auth.Revocations{}
		authn.WithTokens(v).WithRevocations(revocations)
		conn, err := dial(cfg.Addrs.Gateway)
		if err != nil {
			return fmt.Errorf("dial the gateway: %w", err)
		}
		followRevocations = func(ctx context.Context) error {
			defer conn.Close()
			return auth.FollowRevocations(ctx, revocations, accountsv1.NewRevocationServiceClient(conn), cfg.RevocationRefresh)
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
		// Errors become statuses here, the one edge: what runs below
		// (the caller's check, the handler) returns faults.
		rpcerr.UnaryServerInterceptor(),
		recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(recovered)),
		authn.UnaryServerInterceptor(),
	}
	if key := cfg.DemoClockKey; key != "" && democlock.Compiled {
		logger.WarnContext(ctx, "DEMO CLOCK ON: the demo loader may backdate moves with the "+democlock.Header+" header; never in production")
	} else if key != "" {
		logger.WarnContext(ctx, democlock.Env+" is set but this build has no demo clock: every demo time is refused")
	}
	// Always installed: it refuses a demo time the build, the service's
	// settings or the call do not allow.
	unary = append(unary, democlock.UnaryServerInterceptor(cfg.DemoClockKey))
	srv := grpc.NewServer(
		grpc.Creds(tlsConf.Server()),
		grpc.MaxRecvMsgSize(MaxMessage),
		grpc.NumStreamWorkers(streamWorkers),
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(m.StreamServerInterceptor(), logging.StreamServerInterceptor(logger), rpcerr.StreamServerInterceptor(),
			recovery.StreamServerInterceptor(recovery.WithRecoveryHandlerContext(recovered)), authn.StreamServerInterceptor()),
	)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	// Waiting readers are answered when the service starts to stop, so
	// that a long poll does not hold up the graceful stop.
	eventsv1.RegisterEventFeedServiceServer(srv, &outbox.FeedServer{Pool: pool, Stopping: ctx.Done()})
	auditv1.RegisterAuditServiceServer(srv, &audit.Server{Pool: pool, Dir: dir})

	deps := Deps{Pool: pool, Directory: dir, Config: cfg, Dial: dial, Metrics: m}
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
	signer, err := HeadSigner(cfg.AuditSigningKey, cfg.AuditHeadsDir, pool, spec.Name, "")
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
		conn, err := deps.Dial(cfg.Addrs.Assignment)
		if err != nil {
			return fmt.Errorf("dial the directory: %w", err)
		}
		workers = append(workers, func(ctx context.Context) error {
			defer conn.Close()
			return directory.Follow(ctx, dir, directoryv1.NewOfficeServiceClient(conn), cfg.DirectoryRefresh)
		})
	}
	s := &serving.Server{
		GRPC: srv, Health: hs, GRPCListener: grpcL, HTTPListener: httpL,
		Ready:           func(ctx context.Context) error { return pool.Ping(ctx) },
		ShutdownTimeout: cfg.ShutdownTimeout,
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
	if cfg.PProf {
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
// with the key keyText (AUDIT_SIGNING_KEY) into dir (AUDIT_HEADS_DIR); nil
// when neither is set. The key never comes from the database, and the
// directory should be storage its owner cannot rewrite (deploy/).
func HeadSigner(keyText, dir string, pool *pgxpool.Pool, service, schema string) (*audit.HeadSigner, error) {
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

// recovered is the error a handler's panic becomes (go-grpc-middleware's
// recovery): an internal fault, its stack logged here, on the server only.
func recovered(ctx context.Context, p any) error {
	logging.FromContext(ctx).ErrorContext(ctx, "panic", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
	return fault.Hide(fmt.Errorf("panic: %v", p))
}
