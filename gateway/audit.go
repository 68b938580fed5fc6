package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	auditv1 "github.com/tongban/tongban/proto/tongban/audit/v1"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
)

// auditLogs serves GET /v1/services/{service}/auditEntries: each service's
// audit log through its AuditService, and the gateway's own (accounts) in
// process; the policy in each decides who may read it.
type auditLogs struct {
	conns     map[string]*grpc.ClientConn
	local     auditv1.AuditServiceServer // the gateway's own log, when accounts are on
	mux       *runtime.ServeMux
	marshaler runtime.Marshaler
}

func (h *auditLogs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("pageSize"))
	req := &auditv1.ListEntriesRequest{Case: q.Get("case"), Office: q.Get("office"), PageSize: int32(size), PageToken: q.Get("pageToken")}
	md := callMetadata(r)
	var resp *auditv1.ListEntriesResponse
	var err error
	switch service := r.PathValue("service"); {
	case service == "gateway" && h.local != nil:
		resp, err = h.local.ListEntries(metadata.NewIncomingContext(r.Context(), md), req)
	case h.conns[service] != nil:
		resp, err = auditv1.NewAuditServiceClient(h.conns[service]).ListEntries(metadata.NewOutgoingContext(r.Context(), md), req)
	default:
		err = fault.New(fault.NotFound, "NO_SUCH_SERVICE", "no audit log named "+service+": intake, assignment, scheduling, reporting or gateway")
	}
	if err != nil {
		runtime.HTTPError(r.Context(), h.mux, h.marshaler, w, r, err)
		return
	}
	b, err := h.marshaler.Marshal(resp)
	if err != nil {
		runtime.HTTPError(r.Context(), h.mux, h.marshaler, w, r, fault.Hide(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// callerFromMetadata authenticates a call's bearer token with a (for the
// gateway's own log, which no interceptor guards).
func callerFromMetadata(a *auth.Authenticator) func(ctx context.Context) (auth.Caller, error) {
	return func(ctx context.Context) (auth.Caller, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		tok, _ := strings.CutPrefix(strings.Join(md.Get("authorization"), ""), "Bearer ")
		if c, ok := a.Authenticate(tok); ok && tok != "" {
			return c, nil
		}
		return auth.Caller{}, fault.New(fault.Unauthenticated, "TOKEN_INVALID", "the token is not valid")
	}
}
