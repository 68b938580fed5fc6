// Package gateway is the REST face of Tongban: one grpc-gateway mux for the
// four services, dialing each over gRPC, with strict JSON (unknown fields
// are errors), request ids, health of every backend, and the OpenAPI file.
package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // error details must resolve to be rendered
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tongban/tongban/gateway/accounts"
	"github.com/tongban/tongban/gateway/openapi"
	"github.com/tongban/tongban/gateway/web"
	accountsv1 "github.com/tongban/tongban/proto/tongban/accounts/v1"
	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	directoryv1 "github.com/tongban/tongban/proto/tongban/directory/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	reportingv1 "github.com/tongban/tongban/proto/tongban/reporting/v1"
	schedulingv1 "github.com/tongban/tongban/proto/tongban/scheduling/v1"
	"github.com/tongban/tongban/services/devkit/democlock"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/download"
)

// Backends are the services' gRPC addresses and how to reach them.
type Backends struct {
	Intake, Assignment, Scheduling, Reporting string
	// Transport is the connections' security (plaintext when nil; TLS or
	// mutual TLS from tlsconf).
	Transport credentials.TransportCredentials
	// Accounts, when set, serves sign-in and account administration and
	// checks access tokens and API keys before requests reach a service.
	Accounts *accounts.Service
}

// Gateway is the HTTP handler plus the connections it owns.
type Gateway struct {
	http.Handler
	conns map[string]*grpc.ClientConn
}

// Close closes the backend connections.
func (g *Gateway) Close() {
	for _, c := range g.conns {
		c.Close()
	}
}

// New dials the backends (lazily: a backend that is down makes its routes
// fail with 503 and /readyz report it, nothing more) and builds the mux.
func New(ctx context.Context, b Backends) (*Gateway, error) {
	g := &Gateway{conns: map[string]*grpc.ClientConn{}}
	type reg struct {
		name, addr string
		register   func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}
	regs := []reg{
		{"intake", b.Intake, intakev1.RegisterIntakeServiceHandler},
		{"assignment", b.Assignment, func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
			if err := assignmentv1.RegisterAssignmentServiceHandler(ctx, mux, conn); err != nil {
				return err
			}
			if err := directoryv1.RegisterOfficeServiceHandler(ctx, mux, conn); err != nil {
				return err
			}
			return eventsv1.RegisterCaseEventServiceHandler(ctx, mux, conn)
		}},
		{"scheduling", b.Scheduling, schedulingv1.RegisterSchedulingServiceHandler},
		{"reporting", b.Reporting, reportingv1.RegisterReportingServiceHandler},
	}
	marshaler := &runtime.HTTPBodyMarshaler{Marshaler: fastJSON{&runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true, UseProtoNames: false},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false}, // a typo is a 400, not a silent drop
	}}}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler),
		runtime.WithIncomingHeaderMatcher(headerMatcher),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader), // no internal metadata in responses
		runtime.WithForwardResponseOption(createdStatus),
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithErrorHandler(errorHandler),
	)
	for _, r := range regs {
		transport := b.Transport
		if transport == nil {
			transport = insecure.NewCredentials()
		}
		conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(transport),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(app.MaxMessage), grpc.MaxCallSendMsgSize(app.MaxMessage)))
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("dial %s at %s: %w", r.name, r.addr, err)
		}
		g.conns[r.name] = conn
		if err := r.register(ctx, mux, conn); err != nil {
			g.Close()
			return nil, fmt.Errorf("register %s: %w", r.name, err)
		}
	}

	guard := func(h http.Handler) http.Handler { return h }
	if b.Accounts != nil {
		if err := accountsv1.RegisterAccountServiceHandlerServer(ctx, mux, b.Accounts); err != nil {
			g.Close()
			return nil, fmt.Errorf("register accounts: %w", err)
		}
		guard = func(h http.Handler) http.Handler {
			return b.Accounts.Middleware(h, func(w http.ResponseWriter, r *http.Request, err error) {
				errorHandler(r.Context(), mux, marshaler, w, r, err)
			})
		}
	}
	root := http.NewServeMux()
	guard = apiHeaders(guard)
	root.Handle("/v1/", guard(limitBody(mux)))
	logs := &auditLogs{conns: g.conns, mux: mux, marshaler: marshaler}
	if b.Accounts != nil {
		logs.local = &audit.Server{Pool: b.Accounts.Pool, Dir: b.Accounts.Dir,
			Caller: callerFromMetadata(auth.New(b.Accounts.Dir).WithTokens(b.Accounts.Verifier))}
	}
	root.Handle("GET /v1/services/{service}/auditEntries", guard(logs))
	root.Handle("GET /v1/events:watch", guard(endless(mux)))
	root.Handle("POST /v1/cases:importCsv", guard(&csvImport{client: intakev1.NewIntakeServiceClient(g.conns["intake"]), mux: mux, marshaler: marshaler}))
	root.HandleFunc("GET /openapi/tongban.swagger.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi.Spec) //nolint:errcheck
	})
	root.Handle("GET /dashboard/", http.StripPrefix("/dashboard", web.Dashboard()))
	root.Handle("GET /workbench/", http.StripPrefix("/workbench", web.Workbench()))
	root.Handle("GET /{$}", http.RedirectHandler("/workbench/", http.StatusFound))
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }) //nolint:errcheck
	root.HandleFunc("GET /readyz", g.ready)
	// A span per request, continuing a caller's traceparent header.
	g.Handler = otelhttp.NewHandler(root, "gateway", otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	}))
	return g, nil
}

// apiHeaders wraps guard so every API response, whatever route or error
// wrote it, tells the browser not to guess its type, never to run or frame
// it (an uploaded file served from the workbench's origin), and not to keep
// it: a case's identity must not stay in a shared counter computer's cache.
func apiHeaders(guard func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		inner := guard(h)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hd := w.Header()
			hd.Set("X-Content-Type-Options", "nosniff")
			hd.Set("Content-Security-Policy", APIPolicy)
			hd.Set("Cache-Control", "no-store")
			hd.Set("Referrer-Policy", "no-referrer")
			inner.ServeHTTP(w, r)
		})
	}
}

// APIPolicy is the Content-Security-Policy of every API response: nothing
// loads, nothing runs, and a response opened as a page is sandboxed.
const APIPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"

// MaxBody is the largest request body the gateway reads: a gRPC message's
// bound, less room for the JSON's overhead over the protobuf.
const MaxBody = app.MaxMessage - 1<<20

// limitBody refuses bodies over MaxBody (errorHandler answers 413).
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		h.ServeHTTP(w, r)
	})
}

// endless lifts the server's write timeout for a response that streams
// until the client hangs up (a watch).
func endless(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		h.ServeHTTP(w, r)
	})
}

// forwarded are the only request headers that reach the services, as gRPC
// metadata of the same name (grpc-gateway adds Authorization itself).
// grpc-gateway's default would also pass any "Grpc-Metadata-*" header on,
// which would let a caller at the edge set metadata that only Tongban's
// own processes may send (the service credential, auth.ServiceHeader).
var forwarded = map[string]bool{
	"idempotency-key": true, "x-request-id": true, "if-match": true,
	// Judged by the services: honoured only for make run's demo loader.
	democlock.Header: true, democlock.KeyHeader: true,
}

// headerMatcher forwards the headers above and nothing else.
func headerMatcher(key string) (string, bool) {
	k := strings.ToLower(key)
	return k, forwarded[k]
}

// outgoingHeader passes on the one piece of response metadata meant for
// HTTP clients, an export's file name; nothing else internal leaves.
func outgoingHeader(key string) (string, bool) {
	if key == download.Header {
		return "Content-Disposition", true
	}
	return "", false
}

// creates are the methods that create a resource.
var creates = map[string]bool{
	"/tongban.intake.v1.IntakeService/CreateCase":       true,
	"/tongban.intake.v1.IntakeService/CreateAttachment": true,
	"/tongban.accounts.v1.AccountService/CreateAccount": true,
	"/tongban.accounts.v1.AccountService/CreateApiKey":  true,
	"/tongban.directory.v1.OfficeService/CreateOffice":  true,
}

// createdStatus answers 201 to a POST that creates a resource, as REST
// clients expect.
func createdStatus(ctx context.Context, w http.ResponseWriter, _ proto.Message) error {
	if m, ok := runtime.RPCMethod(ctx); ok && creates[m] {
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

// ready checks every backend's gRPC health in parallel and names the ones
// that are not serving.
func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var mu sync.Mutex
	var down []string
	var wg sync.WaitGroup
	for name, conn := range g.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				mu.Lock()
				down = append(down, name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(down) > 0 {
		http.Error(w, "not ready: "+strings.Join(down, ", ")+" not serving", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n")) //nolint:errcheck
}
