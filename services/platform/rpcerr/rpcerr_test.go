package rpcerr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/tongban/tongban/services/platform/fault"
)

func TestToStatus(t *testing.T) {
	t.Parallel()
	info := func(reason string, kv ...string) *errdetails.ErrorInfo {
		i := &errdetails.ErrorInfo{Reason: reason, Domain: Domain}
		for j := 0; j+1 < len(kv); j += 2 {
			if i.Metadata == nil {
				i.Metadata = map[string]string{}
			}
			i.Metadata[kv[j]] = kv[j+1]
		}
		return i
	}
	var two fault.Violations
	two.Add("case.subject", "is required")
	two.Add("case.township", "is not a township")
	already := status.Error(codes.Unavailable, "intake is away")
	tests := []struct {
		name    string
		err     error
		code    codes.Code
		msg     string
		details []any
	}{
		{"a fault", fault.New(fault.FailedPrecondition, "CASE_STATE_CONFLICT", "not now", "state", "ANSWERED"),
			codes.FailedPrecondition, "not now", []any{info("CASE_STATE_CONFLICT", "state", "ANSWERED")}},
		{"a wrapped fault", fmt.Errorf("store: %w", fault.New(fault.AlreadyExists, "DUPLICATE", "twice")),
			codes.AlreadyExists, "twice", []any{info("DUPLICATE")}},
		{"every violation at once", two.Err(), codes.InvalidArgument, "invalid request: case.subject: is required (and 1 more)", []any{
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "case.subject", Description: "is required"}, {Field: "case.township", Description: "is not a township"}}},
			info("INVALID_ARGUMENT"),
		}},
		{"a missing case", fmt.Errorf("get: %w", fault.ErrCaseNotFound), codes.NotFound, "case not found (or not visible to your office)",
			[]any{info("CASE_NOT_FOUND")}},
		{"a missing case, named", fault.Named(fault.ErrCaseNotFound, "name", "cases/1"), codes.NotFound,
			"case not found (or not visible to your office)", []any{info("CASE_NOT_FOUND", "name", "cases/1")}},
		{"a hidden fault says nothing of itself", fault.Hide(fault.New(fault.NotFound, "SECRET", "the accused is 某某")),
			codes.Internal, "internal error", []any{info("INTERNAL")}},
		{"any other error", errors.New("connection reset"), codes.Internal, "internal error", []any{info("INTERNAL")}},
		{"a canceled call", fmt.Errorf("query: %w", context.Canceled), codes.Canceled, "request canceled", []any{info("CANCELED")}},
		{"a deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "deadline exceeded", []any{info("DEADLINE_EXCEEDED")}},
		{"another service's status passes", already, codes.Unavailable, "intake is away", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := Status(tc.err)
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("Status = %v %q, want %v %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			if d := cmp.Diff(tc.details, st.Details(), protocmp.Transform(), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("details (-want +got):\n%s", d)
			}
		})
	}
	if ToStatus(nil) != nil {
		t.Error("ToStatus(nil) is not nil")
	}
}

// TestInternalKeepsCause: the client is told nothing, the log the cause.
func TestInternalKeepsCause(t *testing.T) {
	t.Parallel()
	cause := errors.New("disk full")
	err := ToStatus(fmt.Errorf("insert: %w", cause))
	c, ok := err.(interface{ Cause() error })
	if !ok || !errors.Is(c.Cause(), cause) {
		t.Fatalf("ToStatus of a fault hides its cause from the log: %#v", err)
	}
	if status.Convert(err).Message() != "internal error" {
		t.Errorf("message %q", status.Convert(err).Message())
	}
}

// TestCodesAreCanonical: fault's codes are gRPC's, so the edge casts them.
func TestCodesAreCanonical(t *testing.T) {
	t.Parallel()
	for c, want := range map[fault.Code]codes.Code{
		fault.Canceled: codes.Canceled, fault.InvalidArgument: codes.InvalidArgument, fault.DeadlineExceeded: codes.DeadlineExceeded,
		fault.NotFound: codes.NotFound, fault.AlreadyExists: codes.AlreadyExists, fault.PermissionDenied: codes.PermissionDenied,
		fault.ResourceExhausted: codes.ResourceExhausted, fault.FailedPrecondition: codes.FailedPrecondition, fault.Aborted: codes.Aborted,
		fault.OutOfRange: codes.OutOfRange, fault.Unimplemented: codes.Unimplemented, fault.Internal: codes.Internal,
		fault.Unavailable: codes.Unavailable, fault.Unauthenticated: codes.Unauthenticated,
	} {
		if codes.Code(c) != want {
			t.Errorf("fault code %d is gRPC's %v, want %v", c, codes.Code(c), want)
		}
	}
}

func TestInterceptors(t *testing.T) {
	t.Parallel()
	f := fault.New(fault.PermissionDenied, "ROLE_NOT_ALLOWED", "no")
	_, err := UnaryServerInterceptor()(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { return nil, f })
	if status.Code(err) != codes.PermissionDenied || Reason(err) != "ROLE_NOT_ALLOWED" {
		t.Errorf("unary: %v", err)
	}
	err = StreamServerInterceptor()(nil, nil, &grpc.StreamServerInfo{}, func(any, grpc.ServerStream) error { return f })
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("stream: %v", err)
	}
	resp, err := UnaryServerInterceptor()(context.Background(), nil, &grpc.UnaryServerInfo{}, func(context.Context, any) (any, error) { return "ok", nil })
	if resp != "ok" || err != nil {
		t.Errorf("success: %v, %v", resp, err)
	}
}
