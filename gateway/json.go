package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tongban/tongban/gateway/pbjson"
)

// fastJSON is runtime.JSONPb (EmitUnpopulated, lowerCamelCase names)
// with responses written by pbjson: the same JSON at a fraction of
// protojson's cost per field. What pbjson leaves alone (and anything not
// a message) goes to protojson.
type fastJSON struct{ *runtime.JSONPb }

// Marshal writes v as JSON, into a buffer the size of the last response of
// v's type (a page of 50 cases grew one from 512 bytes seven times over).
func (f fastJSON) Marshal(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok && m.ProtoReflect().IsValid() {
		r := m.ProtoReflect()
		hint := sizeHint(r.Descriptor())
		if b, err := pbjson.Append(make([]byte, 0, hint.Load()), r); err == nil {
			hint.Store(min(int64(len(b))+int64(len(b))/8+64, maxSizeHint))
			return b, nil
		}
	}
	return f.JSONPb.Marshal(v)
}

// maxSizeHint bounds the buffer a response type starts with.
const maxSizeHint = 1 << 20

// sizeHints holds, per response type, the size its next buffer starts at.
var sizeHints sync.Map // protoreflect.MessageDescriptor → *atomic.Int64

func sizeHint(md protoreflect.MessageDescriptor) *atomic.Int64 {
	if h, ok := sizeHints.Load(md); ok {
		return h.(*atomic.Int64)
	}
	h := &atomic.Int64{}
	h.Store(512)
	actual, _ := sizeHints.LoadOrStore(md, h)
	return actual.(*atomic.Int64)
}
