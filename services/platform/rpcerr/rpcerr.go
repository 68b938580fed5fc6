// Package rpcerr is the one edge where errors become gRPC statuses: a
// [fault.Error] becomes its code with an [errdetails.ErrorInfo] (its stable
// reason) and, for invalid input, an [errdetails.BadRequest] naming every
// bad field; a missing case becomes NOT_FOUND; anything else says only
// "internal error" and keeps its cause for the log. Every server installs
// its interceptors (the gateway's error handler maps its in-process calls
// the same way); code below them returns faults and builds no status.
package rpcerr

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/tongban/tongban/services/platform/fault"
)

// Domain is the ErrorInfo domain of every Tongban error.
const Domain = "tongban.gov.cn"

// UnaryServerInterceptor maps every error a handler (or an interceptor
// after this one) returns.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return nil, ToStatus(err)
		}
		return resp, nil
	}
}

// StreamServerInterceptor maps every error a streaming handler returns.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return ToStatus(handler(srv, ss))
	}
}

// ToStatus maps err to what the client sees, as a status error: a status
// error (a library's, or another service's answer) passes unchanged, a
// [fault.Error] (wrapped or not) becomes its status, [fault.ErrCaseNotFound]
// NOT_FOUND, context errors keep their codes, and anything else (or what
// [fault.Hide] marks) an INTERNAL that hides its cause.
func ToStatus(err error) error {
	var fe *fault.Error
	switch {
	case err == nil:
		return nil
	case isStatus(err):
		return err
	case fault.IsHidden(err):
		return &internal{cause: err}
	case errors.As(err, &fe):
		return build(fe).Err()
	case errors.Is(err, fault.ErrCaseNotFound):
		return build(fault.CaseNotFound().(*fault.Error)).Err()
	case errors.Is(err, context.Canceled):
		return build(fault.New(fault.Canceled, "CANCELED", "request canceled").(*fault.Error)).Err()
	case errors.Is(err, context.DeadlineExceeded):
		return build(fault.New(fault.DeadlineExceeded, "DEADLINE_EXCEEDED", "deadline exceeded").(*fault.Error)).Err()
	}
	return &internal{cause: err}
}

// Status is ToStatus as a *status.Status (for a message or the details).
func Status(err error) *status.Status { return status.Convert(ToStatus(err)) }

// Code is the code err becomes.
func Code(err error) codes.Code { return status.Code(ToStatus(err)) }

func build(e *fault.Error) *status.Status {
	info := &errdetails.ErrorInfo{Reason: e.Reason, Domain: Domain, Metadata: e.Metadata}
	details := []protoadapt.MessageV1{info}
	if len(e.Fields) > 0 {
		br := &errdetails.BadRequest{}
		for _, f := range e.Fields {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Description})
		}
		details = []protoadapt.MessageV1{br, info}
	}
	st := status.New(codes.Code(e.Code), e.Message)
	if d, err := st.WithDetails(details...); err == nil {
		st = d
	}
	return st
}

// internal is an INTERNAL status that keeps its cause for the logging
// interceptor.
type internal struct{ cause error }

func (e *internal) Error() string { return "internal error: " + e.cause.Error() }
func (e *internal) Unwrap() error { return e.cause }
func (e *internal) Cause() error  { return e.cause }
func (e *internal) GRPCStatus() *status.Status {
	st, _ := status.New(codes.Internal, "internal error").WithDetails(&errdetails.ErrorInfo{Reason: "INTERNAL", Domain: Domain})
	return st
}

// isStatus reports whether err itself is a status error (a library's, or a
// call to another service), which passes unchanged.
func isStatus(err error) bool {
	_, ok := err.(interface{ GRPCStatus() *status.Status })
	return ok
}

// Reason returns the ErrorInfo reason err carries to the client, or "".
func Reason(err error) string {
	for _, d := range Status(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// Fields returns the fields the BadRequest of err names.
func Fields(err error) []string {
	var out []string
	for _, d := range Status(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}
