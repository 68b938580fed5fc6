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
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tongban/tongban/gateway"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/tlsconf"
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
	g, err := gateway.New(ctx, gateway.Backends{
		Intake:     env("TONGBAN_INTAKE_ADDR", "127.0.0.1:7101"),
		Assignment: env("TONGBAN_ASSIGNMENT_ADDR", "127.0.0.1:7201"),
		Scheduling: env("TONGBAN_SCHEDULING_ADDR", "127.0.0.1:7301"),
		Reporting:  env("TONGBAN_REPORTING_ADDR", "127.0.0.1:7401"),
		Transport:  tlsConf.Client(),
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
		Handler:           logRequests(logger, gateway.RateLimit(g, perToken)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
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
