package gateway

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
)

// TestFastJSON: responses come out as protojson writes them (up to
// whitespace), messages pbjson leaves alone (an error's Any details) and
// other values included.
func TestFastJSON(t *testing.T) {
	jsonpb := &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true}}
	f := fastJSON{jsonpb}
	st, err := status.New(codes.InvalidArgument, "bad").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "case.subject", Description: "is empty"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{
		&intakev1.Case{Name: "cases/330421-2026-000001", Subject: "物业\"费\"", HeadCount: 3, ReceiveTime: timestamppb.Now()},
		&intakev1.ListCasesResponse{},
		st.Proto(),
		map[string]int{"a": 1},
	} {
		got, err := f.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jsonpb.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var g, w bytes.Buffer
		if json.Compact(&g, got) != nil || json.Compact(&w, want) != nil || !bytes.Equal(g.Bytes(), w.Bytes()) {
			t.Errorf("%T:\n got %s\nwant %s", v, got, want)
		}
	}
}

// TestFastJSONSizeHint: a response type's buffer starts at the size of its
// last response (and the JSON does not depend on it).
func TestFastJSONSizeHint(t *testing.T) {
	f := fastJSON{&runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true}}}
	page := &intakev1.ListCasesResponse{}
	for range 50 {
		page.Cases = append(page.Cases, &intakev1.Case{Name: "cases/330421-2026-000001", Subject: "小区雨污管网破损", ReceiveTime: timestamppb.Now()})
	}
	hint := sizeHint(page.ProtoReflect().Descriptor())
	var first []byte
	for i, m := range []*intakev1.ListCasesResponse{page, page, {}, page} {
		b, err := f.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if h := hint.Load(); h < int64(len(b)) || h > int64(len(b))*2+64 {
			t.Errorf("response %d: %d bytes, next buffer %d", i, len(b), h)
		}
		switch {
		case i == 0:
			first = b
		case m == page && !bytes.Equal(b, first):
			t.Errorf("response %d differs from the first:\n%s\n%s", i, b, first)
		}
	}
}
