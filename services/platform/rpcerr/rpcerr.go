// Package rpcerr builds the gRPC statuses Tongban returns: every non-OK
// status carries an [errdetails.ErrorInfo] with a stable reason, invalid
// input carries a [errdetails.BadRequest] naming every bad field at once,
// and server faults say only "internal error" while keeping the cause for
// the log.
package rpcerr

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain is the ErrorInfo domain of every Tongban error.
const Domain = "tongban.gov.cn"

// New returns a status error with an ErrorInfo{reason, metadata} detail.
// kv are metadata key/value pairs.
func New(code codes.Code, reason, msg string, kv ...string) error {
	st := status.New(code, msg)
	info := &errdetails.ErrorInfo{Reason: reason, Domain: Domain}
	if len(kv) > 0 {
		info.Metadata = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			info.Metadata[kv[i]] = kv[i+1]
		}
	}
	if d, err := st.WithDetails(info); err == nil {
		st = d
	}
	return st.Err()
}

// Newf is New with a formatted message and no metadata.
func Newf(code codes.Code, reason, format string, args ...any) error {
	return New(code, reason, fmt.Sprintf(format, args...))
}

// Internal returns an Internal status that hides cause from the client; the
// logging interceptor logs cause.
func Internal(cause error) error {
	return &internal{cause: cause}
}

type internal struct{ cause error }

func (e *internal) Error() string { return "internal error: " + e.cause.Error() }
func (e *internal) Unwrap() error { return e.cause }
func (e *internal) Cause() error  { return e.cause }
func (e *internal) GRPCStatus() *status.Status {
	st, _ := status.New(codes.Internal, "internal error").WithDetails(&errdetails.ErrorInfo{Reason: "INTERNAL", Domain: Domain})
	return st
}

// Violations collects field violations so that all of them are reported in
// one INVALID_ARGUMENT.
type Violations struct {
	list []*errdetails.BadRequest_FieldViolation
}

// Add records that field (a path such as "case.petitioner.phone") is bad.
func (v *Violations) Add(field, description string) {
	v.list = append(v.list, &errdetails.BadRequest_FieldViolation{Field: field, Description: description})
}

// Len is the number of violations so far.
func (v *Violations) Len() int { return len(v.list) }

// Err returns nil when nothing was added, otherwise INVALID_ARGUMENT with a
// BadRequest listing every violation and ErrorInfo{reason: "INVALID_ARGUMENT"}.
func (v *Violations) Err() error {
	if len(v.list) == 0 {
		return nil
	}
	msg := "invalid request: " + v.list[0].Field + ": " + v.list[0].Description
	if len(v.list) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(v.list)-1)
	}
	st, err := status.New(codes.InvalidArgument, msg).WithDetails(
		&errdetails.BadRequest{FieldViolations: v.list},
		&errdetails.ErrorInfo{Reason: "INVALID_ARGUMENT", Domain: Domain},
	)
	if err != nil {
		return status.Error(codes.InvalidArgument, msg)
	}
	return st.Err()
}

// IsStatus reports whether err already is a status error (made by this
// package or by a library such as the idempotency check), which handlers
// return unchanged.
func IsStatus(err error) bool {
	_, ok := err.(interface{ GRPCStatus() *status.Status })
	return ok
}

// ErrCaseNotFound is the sentinel stores return (or wrap) for a missing
// case. Services return the same for a case the caller may not see, so that
// existence never leaks.
var ErrCaseNotFound = errors.New("case not found")

// ToStatus maps an error from inside a service to what the client sees:
// status errors pass unchanged, [ErrCaseNotFound] becomes NOT_FOUND (with kv
// as metadata), context errors keep their codes, and anything else becomes
// an INTERNAL that hides its cause.
func ToStatus(err error, kv ...string) error {
	switch {
	case err == nil:
		return nil
	case IsStatus(err):
		return err
	case errors.Is(err, ErrCaseNotFound):
		return New(codes.NotFound, "CASE_NOT_FOUND", "case not found (or not visible to your office)", kv...)
	case errors.Is(err, context.Canceled):
		return New(codes.Canceled, "CANCELED", "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return New(codes.DeadlineExceeded, "DEADLINE_EXCEEDED", "deadline exceeded")
	}
	return Internal(err)
}

// Reason returns the ErrorInfo reason of a status error, or "".
func Reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// Fields returns the fields named by the BadRequest of a status error.
func Fields(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}
