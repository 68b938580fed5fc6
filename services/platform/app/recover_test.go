package app

import (
	"context"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tongban/tongban/services/platform/rpcerr"
)

// TestPanicIsInternal: a handler's panic reaches the caller as "internal
// error", nothing of the panic's value, and the server goes on.
func TestPanicIsInternal(t *testing.T) {
	t.Parallel()
	in := recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(recovered))
	_, err := rpcerr.UnaryServerInterceptor()(context.Background(), nil, &grpc.UnaryServerInfo{}, func(ctx context.Context, req any) (any, error) {
		return in(ctx, req, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { panic("the petitioner's ID 330421…") })
	})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("a panic became %v %q", st.Code(), st.Message())
	}
}
