// Package logging builds the JSON [log/slog] logger every binary uses, keeps
// it in the context, and logs each RPC once.
//
// Petitioner identity never reaches a log line: RPC logs carry the method,
// the resource name, the caller's office, the request id, the status code
// and the duration, never a request or response body.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
)

type ctxKey struct{}

// New returns a JSON logger writing to w at the given level ("debug",
// "info", "warn", "error"; default info).
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(level))); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// NewFromEnv returns a logger on stderr with the level from LOG_LEVEL,
// tagged with the service name.
func NewFromEnv(service string) *slog.Logger {
	return New(os.Stderr, os.Getenv("LOG_LEVEL")).With("service", service)
}

// WithLogger returns a context carrying logger.
func WithLogger(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, logger)
}

// FromContext returns the context's logger, or [slog.Default].
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
