// Package auth identifies the caller of every RPC and holds the one
// visibility rule every service applies.
//
// A caller presents "authorization: Bearer <token>"; the token maps to an
// office and a role in the county directory. Each service checks the token
// itself (the gateway forwards the header unchanged), so no service trusts
// a caller claim from outside.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/logging"
	"github.com/tongban/tongban/services/platform/token"
)

// Role names.
const (
	RoleClerk   = "clerk"
	RoleHandler = "handler"
	RoleService = "service" // another Tongban service reading a feed
)

// Caller is the verified identity of a request.
type Caller struct {
	Office directory.Office
	Role   string
	County string
	// Account is the signed-in account (empty for a static token).
	Account string
}

type ctxKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the caller of the request.
func FromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(ctxKey{}).(Caller)
	return c, ok
}

// ServiceHeader is the metadata key that carries the internal service
// credential between Tongban's processes. It is not "authorization", so no
// bearer token presented at the edge can ever be taken for it, and the
// gateway forwards no such header (see gateway.headerMatcher).
const ServiceHeader = "x-tongban-service"

// Authenticator resolves credentials: accounts' access tokens (verified with
// the gateway's public keys, checked against its revocations), the internal
// service credential, and under make run the demo directory's static tokens.
type Authenticator struct {
	dir         *directory.Directory
	tokens      map[[32]byte]directory.Token
	verifier    *token.Verifier
	revocations *Revocations
	service     *[32]byte
	// publicMethods answer without a caller.
	publicMethods map[string]bool
	now           func() time.Time
}

// WithTokens makes a also accept the access tokens v verifies (the
// gateway signs them for accounts and API keys).
func (a *Authenticator) WithTokens(v *token.Verifier) *Authenticator {
	a.verifier = v
	return a
}

// WithRevocations makes a refuse the access tokens r says were revoked,
// and every access token while r is stale.
func (a *Authenticator) WithRevocations(r *Revocations) *Authenticator {
	a.revocations = r
	return a
}

// WithService makes a accept the internal service credential (sent under
// ServiceHeader by ServiceCredential) as the caller of role service.
func (a *Authenticator) WithService(credential string) *Authenticator {
	h := sha256.Sum256([]byte(credential))
	a.service = &h
	return a
}

// WithDemoTokens makes a accept the directory's static tokens (one per
// demo office): make run's and the tests' convenience, never a deployment's.
func (a *Authenticator) WithDemoTokens() *Authenticator {
	for _, t := range a.dir.Tokens {
		if t.Role == RoleService {
			continue // the service role is never a bearer token
		}
		a.tokens[sha256.Sum256([]byte(t.Token))] = t
	}
	return a
}

// New builds an authenticator for the directory's county that accepts
// nothing until told what (WithTokens, WithService, WithDemoTokens).
func New(dir *directory.Directory) *Authenticator {
	return &Authenticator{dir: dir, tokens: map[[32]byte]directory.Token{}, now: time.Now}
}

// errInvalid answers a credential that is not one.
var errInvalid = fault.New(fault.Unauthenticated, "TOKEN_INVALID", "the token is not valid")

// Authenticate resolves a bearer token.
func (a *Authenticator) Authenticate(tok string) (Caller, bool) {
	c, err := a.authenticate(tok)
	return c, err == nil
}

func (a *Authenticator) authenticate(tok string) (Caller, error) {
	if a.verifier != nil && token.Looks(tok) {
		now := a.now()
		c, err := a.verifier.Verify(tok, now)
		if err != nil || c.Role == RoleService {
			return Caller{}, errInvalid // no account carries the internal services' role
		}
		if a.revocations != nil {
			if err := a.revocations.check(c, now); err != nil {
				return Caller{}, err
			}
		}
		o, ok := a.dir.Office(c.Office)
		if !ok {
			return Caller{}, errInvalid
		}
		return Caller{Office: o, Role: c.Role, County: a.dir.County.Code, Account: c.Account}, nil
	}
	t, ok := a.tokens[sha256.Sum256([]byte(tok))]
	if !ok {
		return Caller{}, errInvalid
	}
	o, _ := a.dir.Office(t.Office)
	return Caller{Office: o, Role: t.Role, County: a.dir.County.Code}, nil
}

// serviceCaller is the caller of a call made with the internal service
// credential: the service role, at the county's petition bureau (whose
// office the directory names), which the policy lets read feeds and case
// cards and never identity.
func (a *Authenticator) serviceCaller(credential string) (Caller, error) {
	h := sha256.Sum256([]byte(credential))
	if a.service == nil || subtle.ConstantTimeCompare(h[:], a.service[:]) != 1 {
		return Caller{}, fault.New(fault.Unauthenticated, "SERVICE_CREDENTIAL_INVALID", "the service credential is not valid")
	}
	return Caller{Office: a.dir.Bureau(), Role: RoleService, County: a.dir.County.Code}, nil
}

// public methods need no caller: health checks, reflection, and the
// methods a service declares public (WithPublic).
func (a *Authenticator) public(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasPrefix(method, "/grpc.reflection.") || a.publicMethods[method]
}

// WithPublic makes methods (full names) answer without a caller: what
// anyone may ask, such as a petitioner's progress lookup by query code.
func (a *Authenticator) WithPublic(methods ...string) *Authenticator {
	if a.publicMethods == nil {
		a.publicMethods = map[string]bool{}
	}
	for _, m := range methods {
		a.publicMethods[m] = true
	}
	return a
}

// UnaryServerInterceptor refuses calls without a valid token
// (UNAUTHENTICATED) and puts the caller into the context.
func (a *Authenticator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if a.public(info.FullMethod) {
			return handler(ctx, req)
		}
		c, err := a.fromMetadata(ctx)
		if err != nil {
			return nil, err
		}
		logging.Annotate(ctx, slog.String("caller.office", c.Office.ID), slog.String("caller.role", c.Role))
		return handler(WithCaller(ctx, c), req)
	}
}

// StreamServerInterceptor is the streaming twin of UnaryServerInterceptor.
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if a.public(info.FullMethod) {
			return handler(srv, ss)
		}
		c, err := a.fromMetadata(ss.Context())
		if err != nil {
			return err
		}
		logging.Annotate(ss.Context(), slog.String("caller.office", c.Office.ID), slog.String("caller.role", c.Role))
		return handler(srv, &callerStream{ServerStream: ss, ctx: WithCaller(ss.Context(), c)})
	}
}

// callerStream is a server stream whose context carries the caller.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *callerStream) Context() context.Context { return s.ctx }

func (a *Authenticator) fromMetadata(ctx context.Context) (Caller, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if svc := md.Get(ServiceHeader); len(svc) > 0 {
		return a.serviceCaller(svc[0])
	}
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return Caller{}, fault.New(fault.Unauthenticated, "TOKEN_MISSING", "missing credentials: send \"Authorization: Bearer <token>\"")
	}
	token, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		return Caller{}, fault.New(fault.Unauthenticated, "TOKEN_MALFORMED", "the Authorization header must be \"Bearer <token>\"")
	}
	return a.authenticate(strings.TrimSpace(token))
}

// Require returns the caller of ctx, or UNAUTHENTICATED when there is none
// (a handler reached without the interceptor).
func Require(ctx context.Context) (Caller, error) {
	c, ok := FromContext(ctx)
	if !ok {
		return Caller{}, fault.New(fault.Unauthenticated, "TOKEN_MISSING", "missing credentials")
	}
	return c, nil
}

// DialToken returns per-RPC credentials that send a bearer token (tests and
// tools calling a service as an office).
func DialToken(token string) grpc.DialOption {
	return grpc.WithPerRPCCredentials(bearer(token))
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// ServiceCredential returns per-RPC credentials that send the internal
// service credential, for calls between Tongban's processes (mutual TLS
// underneath in deploy/).
func ServiceCredential(credential string) grpc.DialOption {
	return grpc.WithPerRPCCredentials(serviceCred(credential))
}

type serviceCred string

func (s serviceCred) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{ServiceHeader: string(s)}, nil
}

func (serviceCred) RequireTransportSecurity() bool { return false }
