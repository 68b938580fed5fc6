package democlock

import (
	"context"
	"testing"
	"time"

	"github.com/tongban/tongban/services/platform/rpcerr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// TestInterceptor: a demo time is honoured only by a build with the demo
// clock, on a service given its key, for a call presenting that key; every
// other call carrying one is refused before the handler runs.
func TestInterceptor(t *testing.T) {
	t.Parallel()
	const key = "the-demo-loaders-key"
	at := "2019-03-04T05:06:07Z"
	tests := []struct {
		name     string
		key      string // the service's
		compiled bool
		md       metadata.MD
		code     codes.Code
		want     string // the time the handler saw, "" for none
	}{
		{"no demo time", key, true, metadata.Pairs("authorization", "Bearer x"), codes.OK, ""},
		{"the loader", key, true, metadata.Pairs(Header, at, KeyHeader, key), codes.OK, at},
		{"an office without the key", key, true, metadata.Pairs(Header, at), codes.PermissionDenied, ""},
		{"a wrong key", key, true, metadata.Pairs(Header, at, KeyHeader, "guess"), codes.PermissionDenied, ""},
		{"a service without a key", "", true, metadata.Pairs(Header, at, KeyHeader, ""), codes.PermissionDenied, ""},
		{"a build without the demo clock", key, false, metadata.Pairs(Header, at, KeyHeader, key), codes.PermissionDenied, ""},
		{"a bad time", key, true, metadata.Pairs(Header, "yesterday", KeyHeader, key), codes.InvalidArgument, ""},
	}
	for _, tc := range tests {
		var saw string
		ran := false
		handler := func(ctx context.Context, _ any) (any, error) {
			ran = true
			if ts, ok := From(ctx); ok {
				saw = ts.Format(time.RFC3339)
			}
			return nil, nil
		}
		_, err := interceptor(tc.key, tc.compiled)(metadata.NewIncomingContext(context.Background(), tc.md), nil, &grpc.UnaryServerInfo{}, handler)
		if rpcerr.Code(err) != tc.code || saw != tc.want || ran != (tc.code == codes.OK) {
			t.Errorf("%s: %v, handler ran %v at %q; want %v at %q", tc.name, err, ran, saw, tc.code, tc.want)
		}
	}
}
