package pbjson_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tongban/tongban/gateway/pbjson"
	_ "github.com/tongban/tongban/proto/tongban/accounts/v1"
	_ "github.com/tongban/tongban/proto/tongban/assignment/v1"
	_ "github.com/tongban/tongban/proto/tongban/audit/v1"
	_ "github.com/tongban/tongban/proto/tongban/directory/v1"
	_ "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	_ "github.com/tongban/tongban/proto/tongban/reporting/v1"
	_ "github.com/tongban/tongban/proto/tongban/scheduling/v1"
)

var protojsonOpts = protojson.MarshalOptions{EmitUnpopulated: true}

// apiMessages are every message of Tongban's APIs.
func apiMessages(t testing.TB) []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	var walk func(protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			if md := ms.Get(i); !md.IsMapEntry() {
				out = append(out, md)
				walk(md.Messages())
			}
		}
	}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if strings.HasPrefix(string(fd.Package()), "tongban.") {
			walk(fd.Messages())
		}
		return true
	})
	if len(out) < 100 {
		t.Fatalf("found only %d API messages", len(out))
	}
	return out
}

// same checks that pbjson writes m as protojson does (up to whitespace),
// or refuses it where protojson does.
func same(t *testing.T, m protoreflect.Message) {
	t.Helper()
	want, werr := protojsonOpts.Marshal(m.Interface())
	got, gerr := pbjson.Append(nil, m)
	switch {
	case werr != nil && gerr == nil:
		t.Fatalf("%s: protojson refuses (%v), pbjson wrote %s", m.Descriptor().FullName(), werr, got)
	case werr != nil:
		return // the caller falls back to protojson, which gives its error
	case gerr != nil:
		t.Fatalf("%s: pbjson: %v (protojson wrote %s)", m.Descriptor().FullName(), gerr, want)
	}
	var w, g bytes.Buffer
	if err := json.Compact(&w, want); err != nil {
		t.Fatal(err)
	}
	if err := json.Compact(&g, got); err != nil {
		t.Fatalf("%s: pbjson wrote invalid JSON: %v\n%s", m.Descriptor().FullName(), err, got)
	}
	if !bytes.Equal(w.Bytes(), g.Bytes()) {
		t.Fatalf("%s:\nprotojson %s\npbjson    %s", m.Descriptor().FullName(), w.Bytes(), g.Bytes())
	}
}

// TestSameAsProtojson fills every API message at random, many times, and
// compares with protojson.
func TestSameAsProtojson(t *testing.T) {
	msgs := apiMessages(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, md := range msgs {
		same(t, dynamicpb.NewMessage(md)) // all unpopulated
		for range 30 {
			m := dynamicpb.NewMessage(md)
			fill(r, m, 0, false)
			same(t, m)
		}
	}
}

// TestEdges: the values whose JSON has rules of its own.
func TestEdges(t *testing.T) {
	for _, m := range []protoreflect.ProtoMessage{
		&timestamppb.Timestamp{}, &timestamppb.Timestamp{Seconds: 1, Nanos: 1000}, &timestamppb.Timestamp{Seconds: -62135596800},
		&timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999999999}, &timestamppb.Timestamp{Seconds: 253402300800}, &timestamppb.Timestamp{Nanos: -1},
		&durationpb.Duration{Seconds: -1, Nanos: -500000000}, &durationpb.Duration{Nanos: 1}, &durationpb.Duration{Seconds: 1, Nanos: -1},
		&durationpb.Duration{Seconds: 315576000001},
		&fieldmaskpb.FieldMask{Paths: []string{"case.subject", "petitioners", "head_count", "a_b_c"}},
		&fieldmaskpb.FieldMask{Paths: []string{"fooBar"}}, &fieldmaskpb.FieldMask{Paths: []string{"foo_1"}}, &fieldmaskpb.FieldMask{Paths: []string{"foo__bar"}},
		wrapperspb.Double(math.NaN()), wrapperspb.Double(math.Inf(-1)), wrapperspb.Double(1e21), wrapperspb.Double(1e-7), wrapperspb.Double(-0.0),
		wrapperspb.Float(3.4e38), wrapperspb.Float(1e-7), wrapperspb.Float(0.1), wrapperspb.Int64(math.MinInt64), wrapperspb.UInt64(math.MaxUint64),
		wrapperspb.String("\x00\x1f\"\\\u2028<>&\x7f 中文"), wrapperspb.String("bad \xff"), wrapperspb.Bytes([]byte{0, 1, 2, 250}),
	} {
		same(t, m.ProtoReflect())
	}
}

// FuzzSameAsProtojson fills a message chosen by the input at random.
func FuzzSameAsProtojson(f *testing.F) {
	msgs := apiMessages(f)
	f.Add(uint64(0), uint64(1))
	f.Add(uint64(42), uint64(7))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := rand.New(rand.NewPCG(a, b))
		m := dynamicpb.NewMessage(msgs[r.IntN(len(msgs))])
		fill(r, m, 0, true)
		same(t, m)
	})
}

// fill sets a random selection of m's fields to random values; wild
// allows values protojson refuses.
func fill(r *rand.Rand, m protoreflect.Message, depth int, wild bool) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		secs := r.Int64N(253402300799+62135596800) - 62135596800
		if wild && r.IntN(10) == 0 {
			secs = r.Int64()
		}
		setTimes(r, m, secs, false)
		return
	case "google.protobuf.Duration":
		secs := r.Int64N(2*315576000000) - 315576000000
		setTimes(r, m, secs, true)
		return
	case "google.protobuf.FieldMask":
		l := m.Mutable(md.Fields().ByNumber(1)).List()
		for range r.IntN(3) {
			l.Append(protoreflect.ValueOfString(pick(r, "subject", "case.head_count", "petitioners", "a_b.c_d", "x9", "bad_1", "Up")))
		}
		return
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.IntN(3) == 0 || (fd.Message() != nil && depth > 3) {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(3) {
				l.Append(value(r, fd, l.NewElement, depth, wild))
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(3) {
				k := value(r, fd.MapKey(), nil, depth, false).MapKey()
				mp.Set(k, value(r, fd.MapValue(), mp.NewValue, depth, wild))
			}
		default:
			m.Set(fd, value(r, fd, func() protoreflect.Value { return m.NewField(fd) }, depth, wild))
		}
	}
}

func value(r *rand.Rand, fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, depth int, wild bool) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.StringKind:
		s := pick(r, "", "大云镇", "a\"b\\c", "line\nbreak\ttab\x01", "330421-2026-000001", "\u2028 <script>&", strings.Repeat("信访", 50))
		if wild && r.IntN(20) == 0 {
			s += "\xff"
		}
		return protoreflect.ValueOfString(s)
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(9))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(r.Uint32()) >> r.IntN(32))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(r.Uint32() >> r.IntN(32))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(r.Uint64()) >> r.IntN(64))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(r.Uint64() >> r.IntN(64))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(someFloat(r)))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(someFloat(r))
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if r.IntN(10) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(1000 + r.IntN(10))) // unknown to the descriptor
		}
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	case protoreflect.MessageKind:
		v := newMsg()
		fill(r, v.Message(), depth+1, wild)
		return v
	}
	panic("kind " + fd.Kind().String())
}

func someFloat(r *rand.Rand) float64 {
	return []float64{0, 1, -1.5, 0.1, 1e21, 1e-7, 123456789.125, math.NaN(), math.Inf(1), math.Inf(-1), r.NormFloat64() * 1e6}[r.IntN(11)]
}

func pick(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }

// setTimes sets a Timestamp's or Duration's seconds and nanos, with
// nanos of 0, 3, 6 or 9 digits (signed like the seconds for a Duration).
func setTimes(r *rand.Rand, m protoreflect.Message, secs int64, signed bool) {
	nanos := []int32{0, 123000000, 123456000, 123456789, 999999999, 1}[r.IntN(6)]
	if signed && secs < 0 {
		nanos = -nanos
	}
	f := m.Descriptor().Fields()
	m.Set(f.ByNumber(1), protoreflect.ValueOfInt64(secs))
	m.Set(f.ByNumber(2), protoreflect.ValueOfInt32(nanos))
}

// BenchmarkPage writes a page of 50 cases (filled at random, with a
// fixed seed), with protojson and with pbjson.
func BenchmarkPage(b *testing.B) {
	md, err := protoregistry.GlobalFiles.FindDescriptorByName("tongban.intake.v1.ListCasesResponse")
	if err != nil {
		b.Fatal(err)
	}
	page := dynamicpb.NewMessage(md.(protoreflect.MessageDescriptor))
	fd := page.Descriptor().Fields().ByName("cases")
	cases := page.Mutable(fd).List()
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		c := cases.NewElement()
		fill(r, c.Message(), 1, false)
		cases.Append(c)
	}
	// The generated type, as the gateway has it.
	raw, err := proto.Marshal(page.Interface())
	if err != nil {
		b.Fatal(err)
	}
	msg := &intakev1.ListCasesResponse{}
	if err := proto.Unmarshal(raw, msg); err != nil {
		b.Fatal(err)
	}
	b.Run("protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := protojsonOpts.Marshal(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pbjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pbjson.Append(nil, msg.ProtoReflect()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
