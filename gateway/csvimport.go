package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/intake/csvcase"
)

// maxCSV bounds an uploaded CSV file.
const maxCSV = 64 << 20

// csvImport serves POST /v1/cases:importCsv: a CSV file (see
// [csvcase]) streamed row by row into IntakeService.ImportCases, answered
// like the NDJSON endpoint, with errors in the gateway's JSON shape.
type csvImport struct {
	client    intakev1.IntakeServiceClient
	mux       *runtime.ServeMux
	marshaler runtime.Marshaler
}

// callMetadata is what a handler that calls a service itself (outside the
// grpc-gateway mux) forwards of the request: the credentials and the
// request id.
func callMetadata(r *http.Request) metadata.MD {
	md := metadata.MD{}
	for header, key := range map[string]string{"Authorization": "authorization", "X-Request-Id": "x-request-id"} {
		if v := r.Header.Get(header); v != "" {
			md.Set(key, v)
		}
	}
	return md
}

func (h *csvImport) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, callMetadata(r))
	stream, err := h.client.ImportCases(ctx)
	if err != nil {
		runtime.HTTPError(ctx, h.mux, h.marshaler, w, r, err)
		return
	}
	readErr := csvcase.Read(http.MaxBytesReader(w, r.Body, maxCSV), func(_ int, req *intakev1.ImportCasesRequest) error {
		return stream.Send(req)
	})
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		cancel() // abandon the stream: nothing of a malformed file is registered
		runtime.HTTPError(ctx, h.mux, h.marshaler, w, r, status.Error(codes.InvalidArgument, readErr.Error()))
		return
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		runtime.HTTPError(ctx, h.mux, h.marshaler, w, r, err)
		return
	}
	b, err := h.marshaler.Marshal(resp)
	if err != nil {
		runtime.HTTPError(ctx, h.mux, h.marshaler, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b) //nolint:errcheck
}
