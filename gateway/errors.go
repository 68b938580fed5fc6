package gateway

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/rpcerr"
)

// unknownField finds the field protojson names in an unknown-field error.
var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// errorHandler renders errors as grpc-gateway does, except for bodies the
// gateway itself could not decode: protojson's messages are not stable
// (they deliberately vary their whitespace between builds) and do not say
// which field is wrong in a way a program can read, so such an error becomes
// INVALID_ARGUMENT with a plain message, an ErrorInfo and, for an unknown
// field, a BadRequest naming it.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if _, ok := fault.As(err); ok || fault.IsHidden(err) {
		// The accounts service answers in-process, below no interceptor:
		// its faults take the services' one mapping here.
		err = rpcerr.ToStatus(err)
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
		if strings.Contains(st.Message(), "request body too large") {
			tooLarge(m, w)
			return
		}
		err = decodeError(st.Message())
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// tooLarge answers 413 with a status body naming the limit.
func tooLarge(m runtime.Marshaler, w http.ResponseWriter) {
	st, _ := status.New(codes.InvalidArgument, "the request body is larger than "+strconv.Itoa(MaxBody>>20)+" MiB; send attachments one at a time").
		WithDetails(&errdetails.ErrorInfo{Reason: "BODY_TOO_LARGE", Domain: rpcerr.Domain})
	body, err := m.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":3,"message":"request body too large"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	w.Write(body) //nolint:errcheck
}

// decodeError turns a body-decoding message into a readable status.
func decodeError(msg string) error {
	msg = strings.ReplaceAll(msg, "\u00a0", " ")
	msg = strings.TrimPrefix(msg, "proto: ")
	reason := "MALFORMED_BODY"
	violation := &errdetails.BadRequest_FieldViolation{Field: "body", Description: msg}
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		reason = "UNKNOWN_FIELD"
		violation = &errdetails.BadRequest_FieldViolation{Field: m[1], Description: "is not a field of this request (check its spelling against the API reference)"}
	}
	st := status.New(codes.InvalidArgument, "the request body could not be read: "+msg)
	if withDetails, err := st.WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{violation}},
		&errdetails.ErrorInfo{Reason: reason, Domain: rpcerr.Domain},
	); err == nil {
		st = withDetails
	}
	return st.Err()
}
