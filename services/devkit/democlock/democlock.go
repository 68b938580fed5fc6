// Package democlock lets make run's demo loader backdate the moves it
// makes: a call's "now" is taken from the x-tongban-demo-time header, so a
// generated year of cases has the history, clocks and figures a real year
// would have.
//
// Three locks keep it out of a county's hands: the code that honours the
// header is compiled only with the build tag tongbandemo (make run and
// make test build with it, deploy/Dockerfile does not); a service honours
// it only when started with TONGBAN_DEMO_CLOCK_KEY, a per-installation
// secret make run keeps in .data/secrets.env; and only on a call that also
// presents that secret (x-tongban-demo-clock), which the demo loader has and
// no office's token carries. A demo time without all three is refused.
package democlock

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"github.com/tongban/tongban/services/platform/fault"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Header carries the time (RFC 3339) a call is made "at".
const Header = "x-tongban-demo-time"

// KeyHeader carries the demo loader's secret with it.
const KeyHeader = "x-tongban-demo-clock"

// Env is the variable holding that secret; a service started without it
// refuses every demo time.
const Env = "TONGBAN_DEMO_CLOCK_KEY"

// Compiled says whether this build can honour a demo clock at all (the
// tongbandemo build tag).
const Compiled = compiled

type ctxKey struct{}

// From returns the time the call is made at, when a demo clock set one.
func From(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(ctxKey{}).(time.Time)
	return t, ok
}

// Now is the time of a call: the demo clock's when the demo loader set one,
// else clock's.
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

var errRefused = fault.New(fault.PermissionDenied, "DEMO_CLOCK_REFUSED",
	"the "+Header+" header is honoured only for make run's demo loader; send the call without it")

// UnaryServerInterceptor reads Header into the call's context when the call
// presents key under KeyHeader and key is set and this build has the demo
// clock; any other call carrying Header is refused and changes nothing.
func UnaryServerInterceptor(key string) grpc.UnaryServerInterceptor {
	return interceptor(key, Compiled)
}

func interceptor(key string, compiled bool) grpc.UnaryServerInterceptor {
	want := sha256.Sum256([]byte(key))
	on := compiled && key != ""
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		v := md.Get(Header)
		if len(v) == 0 {
			return handler(ctx, req)
		}
		given := md.Get(KeyHeader)
		if !on || len(given) == 0 {
			return nil, errRefused
		}
		have := sha256.Sum256([]byte(given[0]))
		if subtle.ConstantTimeCompare(have[:], want[:]) != 1 {
			return nil, errRefused
		}
		t, err := time.Parse(time.RFC3339Nano, v[0])
		if err != nil {
			var bad fault.Violations
			bad.Add(Header, "want an RFC 3339 time, have "+v[0])
			return nil, bad.Err()
		}
		return handler(With(ctx, t.Truncate(time.Microsecond)), req)
	}
}
