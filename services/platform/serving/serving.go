// Package serving runs a gRPC server and its small HTTP side server
// (/healthz, /readyz) with a bounded graceful stop.
package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tongban/tongban/services/platform/logging"
)

// ReadyFunc reports whether the service can serve (e.g. the database pings).
type ReadyFunc func(ctx context.Context) error

// Server is a gRPC server plus the HTTP side server.
type Server struct {
	GRPC            *grpc.Server
	Health          *health.Server
	GRPCListener    net.Listener
	HTTPListener    net.Listener
	Ready           ReadyFunc
	ShutdownTimeout time.Duration
	// Extra handlers for the HTTP side server, by pattern.
	Handlers map[string]http.Handler

	readyMu  sync.Mutex
	readyAt  time.Time
	readyErr error
	stopping atomic.Bool
}

// Listen opens both listeners first, so that ":0" ports are known before
// anything runs.
func Listen(grpcAddr, httpAddr string) (net.Listener, net.Listener, error) {
	gl, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen grpc %s: %w", grpcAddr, err)
	}
	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		gl.Close()
		return nil, nil, fmt.Errorf("listen http %s: %w", httpAddr, err)
	}
	return gl, hl, nil
}

// Run serves until ctx ends, then: readiness and gRPC health flip to
// NOT_SERVING, GracefulStop runs, and Stop cuts it short after
// ShutdownTimeout. Extra background funcs run beside the servers and must
// return when ctx ends.
func (s *Server) Run(ctx context.Context, background ...func(context.Context) error) error {
	logger := logging.FromContext(ctx)
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n")) //nolint:errcheck
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(r.Context()); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n")) //nolint:errcheck
	})
	for p, h := range s.Handlers {
		mux.Handle(p, h)
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2+len(background))
	start := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	start(func() error {
		if err := s.GRPC.Serve(s.GRPCListener); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("grpc serve: %w", err)
		}
		return nil
	})
	start(func() error {
		if err := httpSrv.Serve(s.HTTPListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http serve: %w", err)
		}
		return nil
	})
	for _, b := range background {
		start(func() error { return b(ctx) })
	}
	logger.InfoContext(ctx, "serving", slog.String("grpc", s.GRPCListener.Addr().String()), slog.String("http", s.HTTPListener.Addr().String()))

	<-ctx.Done()
	logger.InfoContext(ctx, "shutting down")
	s.stopping.Store(true)
	s.Health.Shutdown() // every service NOT_SERVING
	timeout := s.ShutdownTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	stopped := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(timeout):
		logger.WarnContext(ctx, "graceful stop timed out; forcing")
		s.GRPC.Stop()
	}
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer done()
	_ = httpSrv.Shutdown(shutdownCtx)
	wg.Wait()
	close(errs)
	return <-errs // the first failure, or nil
}

// ready runs Ready at most once a second, so probe storms cannot load the
// database.
func (s *Server) ready(ctx context.Context) error {
	if s.stopping.Load() {
		return errors.New("shutting down")
	}
	if s.Ready == nil {
		return nil
	}
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if time.Since(s.readyAt) < time.Second {
		return s.readyErr
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s.readyErr = s.Ready(ctx)
	s.readyAt = time.Now()
	return s.readyErr
}
