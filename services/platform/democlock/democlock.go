// Package democlock lets a demonstration load backdate the moves it makes:
// with TONGBAN_DEMO_CLOCK=true a service takes "now" for a call from the
// x-tongban-demo-time header, so a generated year of cases has the
// history, clocks and figures a real year would have. It is off unless
// that variable is set, which no deployment manifest does; a service that
// has it on says so loudly at start.
package democlock

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Header carries the time (RFC 3339) a call is made "at".
const Header = "x-tongban-demo-time"

// Env is the variable that turns the demo clock on.
const Env = "TONGBAN_DEMO_CLOCK"

type ctxKey struct{}

// From returns the time the call is made at, when a demo clock set one.
func From(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(ctxKey{}).(time.Time)
	return t, ok
}

// Now is the time of a call: the demo clock's when a demonstration load
// set one, else clock's.
func Now(ctx context.Context, clock func() time.Time) time.Time {
	if t, ok := From(ctx); ok {
		return t
	}
	return clock()
}

// With returns ctx made at t (for tests).
func With(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// UnaryServerInterceptor reads Header into the call's context.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get(Header); len(v) > 0 {
			t, err := time.Parse(time.RFC3339Nano, v[0])
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "%s: want an RFC 3339 time, have %q", Header, v[0])
			}
			ctx = With(ctx, t.Truncate(time.Microsecond))
		}
		return handler(ctx, req)
	}
}
