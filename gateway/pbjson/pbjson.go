// Package pbjson writes protobuf messages as the JSON that
// protojson.MarshalOptions{EmitUnpopulated: true} writes (field names in
// lowerCamelCase, enums by name, 64-bit integers as strings, unpopulated
// fields included), without protojson's per-message cost: protojson
// collects and sorts every message's fields and boxes every value, which
// made encoding a page of 50 cases most of the gateway's CPU. Fields are
// written in declaration order, as protojson orders them.
//
// The JSON is protojson's up to insignificant whitespace (protojson adds
// random spaces on purpose), as TestSameAsProtojson checks on every
// message of Tongban's APIs. Messages with what pbjson does not handle
// (google.protobuf.Any, Struct and Value, extensions, proto2 defaults)
// return ErrUnsupported, and the caller falls back to protojson; so do
// values protojson refuses (invalid UTF-8, a timestamp out of range), for
// which Append returns an error and protojson gives its own.
package pbjson

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrUnsupported says the message holds a type pbjson leaves to protojson.
var ErrUnsupported = errors.New("pbjson: unsupported message type")

// Append appends m's JSON to b.
func Append(b []byte, m protoreflect.Message) ([]byte, error) {
	return appendMessage(b, m)
}

func appendMessage(b []byte, m protoreflect.Message) ([]byte, error) {
	md := m.Descriptor()
	if wkt, ok := wellKnown[md.FullName()]; ok {
		return wkt(b, m)
	}
	fields, err := fieldsOf(md)
	if err != nil {
		return b, err
	}
	b = append(b, '{')
	first := true
	for i := range fields {
		f := &fields[i]
		fd := f.fd
		has := true
		if f.mayBeUnset {
			has = m.Has(fd)
			if !has && f.oneof {
				continue // an unset oneof member or proto3 optional field is left out
			}
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.name...)
		var err error
		switch {
		case f.list:
			b, err = appendList(b, fd, m.Get(fd).List())
		case f.isMap:
			b, err = appendMap(b, fd, m.Get(fd).Map())
		case !has: // a message field
			b = append(b, "null"...)
		default:
			b, err = appendSingular(b, fd, m.Get(fd))
		}
		if err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil // unknown fields are left out, as protojson does
}

// field is what appendMessage needs of a field, worked out once per
// message type: its quoted JSON name with the colon, and whether it can
// be unset (a oneof member or proto3 optional, left out when unset; a
// message, null when unset). Scalars and lists need no Has.
type field struct {
	fd          protoreflect.FieldDescriptor
	name        []byte
	mayBeUnset  bool
	oneof       bool
	list, isMap bool
}

// fields holds each message type's []field, or ErrUnsupported.
var fields sync.Map // protoreflect.MessageDescriptor → []field or error

func fieldsOf(md protoreflect.MessageDescriptor) ([]field, error) {
	if v, ok := fields.Load(md); ok {
		if err, bad := v.(error); bad {
			return nil, err
		}
		return v.([]field), nil
	}
	if md.ExtensionRanges().Len() > 0 || md.Syntax() != protoreflect.Proto3 {
		fields.Store(md, ErrUnsupported)
		return nil, ErrUnsupported
	}
	fds := md.Fields()
	out := make([]field, fds.Len())
	for i := range out {
		fd := fds.Get(i)
		oneof := fd.ContainingOneof() != nil
		out[i] = field{
			fd:         fd,
			name:       append(appendString(nil, fd.JSONName()), ':'),
			oneof:      oneof,
			mayBeUnset: oneof || (fd.Message() != nil && !fd.IsList() && !fd.IsMap()),
			list:       fd.IsList(),
			isMap:      fd.IsMap(),
		}
	}
	fields.Store(md, out)
	return out, nil
}

func appendList(b []byte, fd protoreflect.FieldDescriptor, l protoreflect.List) ([]byte, error) {
	b = append(b, '[')
	for i := range l.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendSingular(b, fd, l.Get(i)); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendMap writes a map with its keys in protojson's order: false before
// true, numbers by value, strings byte-wise.
func appendMap(b []byte, fd protoreflect.FieldDescriptor, mp protoreflect.Map) ([]byte, error) {
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, func(x, y protoreflect.MapKey) int {
		switch v := x.Interface().(type) {
		case bool:
			switch w := y.Bool(); {
			case v == w:
				return 0
			case !v:
				return -1
			}
			return 1
		case int32, int64:
			return cmpInt(x.Int(), y.Int())
		case uint32, uint64:
			return cmpInt(x.Uint(), y.Uint())
		}
		return strings.Compare(x.String(), y.String())
	})
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k.String())
		b = append(b, ':')
		var err error
		if b, err = appendSingular(b, fd.MapValue(), mp.Get(k)); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func cmpInt[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendSingular writes one value of fd's kind.
func appendSingular(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
	case protoreflect.StringKind:
		s := v.String()
		if !utf8.ValidString(s) {
			return b, fmt.Errorf("pbjson: field %s: invalid UTF-8", fd.FullName())
		}
		return appendString(b, s), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendInt(b, v.Int(), 10), '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendUint(b, v.Uint(), 10), '"'), nil
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64), nil
	case protoreflect.BytesKind:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"'), nil
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return append(b, "null"...), nil
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return appendString(b, string(ev.Name())), nil
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return appendMessage(b, v.Message())
	}
	return b, ErrUnsupported
}

// appendFloat writes a float as protojson does (encoding/json's format;
// NaN and the infinities as strings).
func appendFloat(b []byte, n float64, bits int) []byte {
	switch {
	case math.IsNaN(n):
		return append(b, `"NaN"`...)
	case math.IsInf(n, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, n, format, -1, bits)
	if format == 'e' { // e-09 → e-9
		if l := len(b); l >= 4 && b[l-4] == 'e' && b[l-3] == '-' && b[l-2] == '0' {
			b[l-2] = b[l-1]
			b = b[:l-1]
		}
	}
	return b
}

// appendString writes s quoted as protojson does: only '"', '\\' and
// control characters are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// wellKnown are the well-known types with JSON of their own that pbjson
// writes; Any, Struct, Value and ListValue are left to protojson.
var wellKnown map[protoreflect.FullName]func([]byte, protoreflect.Message) ([]byte, error)

func init() { // not a literal: appendWrapper refers back to wellKnown
	wellKnown = map[protoreflect.FullName]func([]byte, protoreflect.Message) ([]byte, error){
		"google.protobuf.Timestamp":   appendTimestamp,
		"google.protobuf.Duration":    appendDuration,
		"google.protobuf.FieldMask":   appendFieldMask,
		"google.protobuf.Empty":       func(b []byte, _ protoreflect.Message) ([]byte, error) { return append(b, "{}"...), nil },
		"google.protobuf.BoolValue":   appendWrapper,
		"google.protobuf.Int32Value":  appendWrapper,
		"google.protobuf.Int64Value":  appendWrapper,
		"google.protobuf.UInt32Value": appendWrapper,
		"google.protobuf.UInt64Value": appendWrapper,
		"google.protobuf.FloatValue":  appendWrapper,
		"google.protobuf.DoubleValue": appendWrapper,
		"google.protobuf.StringValue": appendWrapper,
		"google.protobuf.BytesValue":  appendWrapper,
		"google.protobuf.Any":         unsupported,
		"google.protobuf.Struct":      unsupported,
		"google.protobuf.Value":       unsupported,
		"google.protobuf.ListValue":   unsupported,
	}
}

func unsupported(b []byte, _ protoreflect.Message) ([]byte, error) { return b, ErrUnsupported }

func appendWrapper(b []byte, m protoreflect.Message) ([]byte, error) {
	fd := m.Descriptor().Fields().ByNumber(1)
	return appendSingular(b, fd, m.Get(fd))
}

// secondsAndNanos reads a Timestamp's or Duration's two fields.
func secondsAndNanos(m protoreflect.Message) (int64, int32) {
	f := m.Descriptor().Fields()
	return m.Get(f.ByNumber(1)).Int(), int32(m.Get(f.ByNumber(2)).Int())
}

// Timestamp limits: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const minTimestamp, maxTimestamp = -62135596800, 253402300799

func appendTimestamp(b []byte, m protoreflect.Message) ([]byte, error) {
	secs, nanos := secondsAndNanos(m)
	if secs < minTimestamp || secs > maxTimestamp || nanos < 0 || nanos > 999999999 {
		return b, fmt.Errorf("pbjson: %s: timestamp out of range", m.Descriptor().FullName())
	}
	b = append(b, '"')
	t := time.Unix(secs, 0).UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10)) // years 1–9999: the range checked above
	b = appendNanos(b, nanos)
	return append(b, 'Z', '"'), nil
}

// appendNanos writes ".xxx", ".xxxxxx" or ".xxxxxxxxx" as needed.
func appendNanos(b []byte, nanos int32) []byte {
	if nanos == 0 {
		return b
	}
	digits := 9
	switch {
	case nanos%1e6 == 0:
		digits, nanos = 3, nanos/1e6
	case nanos%1e3 == 0:
		digits, nanos = 6, nanos/1e3
	}
	b = append(append(b, '.'), "000000000"[:digits]...) // zero-padded to digits
	for i := len(b) - 1; nanos > 0; i-- {
		b[i] = byte('0' + nanos%10)
		nanos /= 10
	}
	return b
}

// Duration limits: ±315,576,000,000 s.
const maxDurationSeconds = 315576000000

func appendDuration(b []byte, m protoreflect.Message) ([]byte, error) {
	secs, nanos := secondsAndNanos(m)
	if secs < -maxDurationSeconds || secs > maxDurationSeconds || nanos <= -1e9 || nanos >= 1e9 ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return b, fmt.Errorf("pbjson: %s: duration out of range", m.Descriptor().FullName())
	}
	b = append(b, '"')
	if secs < 0 || nanos < 0 {
		b = append(b, '-')
		secs, nanos = -secs, -nanos
	}
	b = strconv.AppendInt(b, secs, 10)
	b = appendNanos(b, nanos)
	return append(b, 's', '"'), nil
}

func appendFieldMask(b []byte, m protoreflect.Message) ([]byte, error) {
	paths := m.Get(m.Descriptor().Fields().ByNumber(1)).List()
	out := make([]string, paths.Len())
	for i := range paths.Len() {
		p := paths.Get(i).String()
		camel, ok := lowerCamel(p)
		if !ok {
			return b, fmt.Errorf("pbjson: field mask path %q cannot be written in JSON", p)
		}
		out[i] = camel
	}
	return appendString(b, strings.Join(out, ",")), nil
}

// lowerCamel is protojson's field mask path conversion, foo_bar.baz_qux →
// fooBar.bazQux, for paths of lower-case letters, digits, dots and
// underscores each followed by a lower-case letter; false for the others.
func lowerCamel(s string) (string, bool) {
	var out []byte
	after := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			if after {
				return "", false
			}
			after = true
			continue
		case after && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case after, !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.'):
			return "", false // protojson decides (it refuses what it cannot turn back)
		}
		after = false
		out = append(out, c)
	}
	if after {
		return "", false
	}
	return string(out), true
}
