// Package fault is the errors Tongban's domain code returns: a kind (the
// same canonical codes gRPC uses, so the edge maps them one to one), a
// stable reason, a message a person can read, metadata, and every bad field
// of a request at once. It imports no RPC package: stores, rules and
// handlers return these, and rpcerr turns them into gRPC statuses at one
// edge, the server's interceptor.
package fault

import (
	"errors"
	"fmt"
)

// Code is the kind of failure, numbered as the canonical codes of
// google.rpc.Code (and gRPC's codes package).
type Code uint32

// The codes Tongban uses.
const (
	Canceled           Code = 1
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	Unauthenticated    Code = 16
)

// Error is a failure the caller may be told about.
type Error struct {
	Code     Code
	Reason   string            // stable, UPPER_SNAKE (ErrorInfo.reason)
	Message  string            // for a person
	Metadata map[string]string // ErrorInfo.metadata
	Fields   []FieldViolation  // the bad fields of an INVALID_ARGUMENT
}

// FieldViolation names one bad field ("case.petitioner.phone") and why.
type FieldViolation struct{ Field, Description string }

func (e *Error) Error() string { return e.Message }

// New returns an Error; kv are metadata key/value pairs.
func New(code Code, reason, msg string, kv ...string) error {
	e := &Error{Code: code, Reason: reason, Message: msg}
	if len(kv) > 0 {
		e.Metadata = make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			e.Metadata[kv[i]] = kv[i+1]
		}
	}
	return e
}

// Newf is New with a formatted message and no metadata.
func Newf(code Code, reason, format string, args ...any) error {
	return New(code, reason, fmt.Sprintf(format, args...))
}

// Violations collects field violations so that all of them are reported in
// one INVALID_ARGUMENT.
type Violations struct {
	list []FieldViolation
}

// Add records that field (a path such as "case.petitioner.phone") is bad.
func (v *Violations) Add(field, description string) {
	v.list = append(v.list, FieldViolation{Field: field, Description: description})
}

// Len is the number of violations so far.
func (v *Violations) Len() int { return len(v.list) }

// Err returns nil when nothing was added, otherwise INVALID_ARGUMENT listing
// every violation, with the reason INVALID_ARGUMENT.
func (v *Violations) Err() error {
	if len(v.list) == 0 {
		return nil
	}
	msg := "invalid request: " + v.list[0].Field + ": " + v.list[0].Description
	if len(v.list) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(v.list)-1)
	}
	return &Error{Code: InvalidArgument, Reason: "INVALID_ARGUMENT", Message: msg, Fields: v.list}
}

// ErrCaseNotFound is what stores return (or wrap) for a missing case.
// Services return the same for a case the caller may not see, so that
// existence never leaks.
var ErrCaseNotFound = errors.New("case not found")

// CaseNotFound is the NOT_FOUND a caller gets for a missing (or invisible)
// case, with kv as metadata ("name", the case asked for).
func CaseNotFound(kv ...string) error {
	return New(NotFound, "CASE_NOT_FOUND", "case not found (or not visible to your office)", kv...)
}

// Named is err with kv as the metadata of the NOT_FOUND it becomes when it
// is (or wraps) ErrCaseNotFound; any other err is returned unchanged.
func Named(err error, kv ...string) error {
	if errors.Is(err, ErrCaseNotFound) {
		return CaseNotFound(kv...)
	}
	return err
}

// Hide marks cause as a server fault: the caller is told only "internal
// error", the log gets cause.
func Hide(cause error) error { return &internal{cause: cause} }

type internal struct{ cause error }

func (e *internal) Error() string { return "internal error: " + e.cause.Error() }
func (e *internal) Unwrap() error { return e.cause }

// Cause is the fault behind an internal error, for the log.
func (e *internal) Cause() error { return e.cause }

// IsHidden reports whether err was marked with Hide.
func IsHidden(err error) bool {
	var ie *internal
	return errors.As(err, &ie)
}

// As returns the Error err is or wraps.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
