package gateway

import (
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"

	"github.com/tongban/tongban/gateway/pbjson"
)

// fastJSON is runtime.JSONPb (EmitUnpopulated, lowerCamelCase names)
// with responses written by pbjson: the same JSON at a fraction of
// protojson's cost per field. What pbjson leaves alone (and anything not
// a message) goes to protojson.
type fastJSON struct{ *runtime.JSONPb }

// Marshal writes v as JSON.
func (f fastJSON) Marshal(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok && m.ProtoReflect().IsValid() {
		if b, err := pbjson.Append(make([]byte, 0, 512), m.ProtoReflect()); err == nil {
			return b, nil
		}
	}
	return f.JSONPb.Marshal(v)
}
