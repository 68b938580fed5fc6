package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// namer is implemented by requests that address one resource.
type namer interface{ GetName() string }

// parenter is implemented by list requests.
type parenter interface{ GetParent() string }

// requestIDer is implemented by mutating requests.
type requestIDer interface{ GetRequestId() string }

// annotations collects attributes that inner layers (authentication, the
// handler) add to the call's one log line.
type annotations struct {
	mu    sync.Mutex
	attrs []any
}

type annotationsKey struct{}

// Annotate adds attributes to the log line of the call ctx belongs to (a
// no-op outside an intercepted call). Never pass identity.
func Annotate(ctx context.Context, attrs ...any) {
	if a, ok := ctx.Value(annotationsKey{}).(*annotations); ok {
		a.mu.Lock()
		a.attrs = append(a.attrs, attrs...)
		a.mu.Unlock()
	}
}

// UnaryServerInterceptor puts base into each request's context and logs
// every call once: Info for success and client errors, Error for server
// faults (Internal, Unknown, DataLoss, Unavailable), with the wrapped error
// the handler returned.
func UnaryServerInterceptor(base *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		attrs := []any{slog.String("rpc.method", info.FullMethod)}
		if r, ok := req.(namer); ok && r.GetName() != "" {
			attrs = append(attrs, slog.String("name", r.GetName()))
		}
		if r, ok := req.(parenter); ok && r.GetParent() != "" {
			attrs = append(attrs, slog.String("parent", r.GetParent()))
		}
		if id := requestID(ctx, req); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
		logger := base.With(attrs...)
		notes := &annotations{}
		ctx = context.WithValue(WithLogger(ctx, logger), annotationsKey{}, notes)

		resp, err := handler(ctx, req)
		logResult(ctx, logger, notes, start, err)
		return resp, err
	}
}

// logResult writes the one line of a call: Info for success and client
// errors, Error (with the hidden cause) for server faults.
func logResult(ctx context.Context, logger *slog.Logger, notes *annotations, start time.Time, err error) {
	code := status.Code(err)
	out := []any{slog.String("code", code.String()), slog.Duration("duration", time.Since(start))}
	notes.mu.Lock()
	out = append(out, notes.attrs...)
	notes.mu.Unlock()
	switch code {
	case codes.OK:
		logger.InfoContext(ctx, "rpc", out...)
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unavailable:
		logger.ErrorContext(ctx, "rpc", append(out, slog.String("error", errorText(err)))...)
	default:
		logger.InfoContext(ctx, "rpc", append(out, slog.String("error", status.Convert(err).Message()))...)
	}
}

// internalError carries the wrapped cause of an Internal status so the
// interceptor can log it while the client sees only "internal error".
type internalError interface{ Cause() error }

func errorText(err error) string {
	if ie, ok := err.(internalError); ok && ie.Cause() != nil {
		return ie.Cause().Error()
	}
	return status.Convert(err).Message()
}

func requestID(ctx context.Context, req any) string {
	if r, ok := req.(requestIDer); ok && r.GetRequestId() != "" {
		return r.GetRequestId()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, k := range []string{"idempotency-key", "x-request-id"} {
		if v := md.Get(k); len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	return ""
}

// StreamServerInterceptor logs every streaming call once, like
// [UnaryServerInterceptor] (no request bodies: a stream may carry many).
func StreamServerInterceptor(base *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		logger := base.With(slog.String("rpc.method", info.FullMethod))
		if id := requestID(ss.Context(), nil); id != "" {
			logger = logger.With(slog.String("request_id", id))
		}
		notes := &annotations{}
		ctx := context.WithValue(WithLogger(ss.Context(), logger), annotationsKey{}, notes)
		err := handler(srv, &loggedStream{ServerStream: ss, ctx: ctx})
		logResult(ctx, logger, notes, start, err)
		return err
	}
}

type loggedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *loggedStream) Context() context.Context { return s.ctx }
