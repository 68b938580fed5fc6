// Package tracing sets up OpenTelemetry traces for a process: spans of the
// gateway's HTTP requests, of every gRPC call (server and client), of every
// SQL statement, and of every event a consumer applies, joined to the span
// that wrote the event into the outbox. With OTEL_EXPORTER_OTLP_ENDPOINT
// set (e.g. http://otel-collector:4318) spans go there over OTLP/HTTP;
// without it tracing stays off and costs nothing.
package tracing

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Setup installs the tracer provider and the W3C trace-context propagator
// for service; the returned func flushes and stops it.
func Setup(ctx context.Context, service string) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))),
	)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

var tracer = otel.Tracer("github.com/tongban/tongban")

// Inject returns the trace context of ctx as a W3C traceparent header value
// ("" when there is no span), to travel with an event.
func Inject(ctx context.Context) string {
	c := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, c)
	return c["traceparent"]
}

// StartConsumer starts the span of applying an event that was written with
// traceparent: a child of the writer's span, so one trace follows a request
// across the outbox into every consumer.
func StartConsumer(ctx context.Context, traceparent, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if traceparent != "" {
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
	}
	return tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// End ends span, recording err.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// PgxTracer makes a span of every SQL statement (its text, never its
// arguments: they may hold sealed identity or content).
type PgxTracer struct{}

type spanKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (PgxTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return ctx // only inside a traced request or event
	}
	ctx, span := tracer.Start(ctx, "sql", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.DBSystemPostgreSQL, attribute.String("db.statement", data.SQL)))
	return context.WithValue(ctx, spanKey{}, span)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (PgxTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if span, ok := ctx.Value(spanKey{}).(trace.Span); ok {
		End(span, data.Err)
	}
}

// TraceBatchStart implements pgx.BatchTracer: a batch (several statements
// in one round trip, as pgdb.Pipeline sends them) is one "sql" span.
func (PgxTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return ctx
	}
	var statements []string
	if data.Batch != nil {
		for _, q := range data.Batch.QueuedQueries {
			statements = append(statements, q.SQL)
		}
	}
	ctx, span := tracer.Start(ctx, "sql", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.DBSystemPostgreSQL, attribute.StringSlice("db.statements", statements)))
	return context.WithValue(ctx, spanKey{}, span)
}

// TraceBatchQuery implements pgx.BatchTracer (the batch's span covers it).
func (PgxTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd implements pgx.BatchTracer.
func (PgxTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	if span, ok := ctx.Value(spanKey{}).(trace.Span); ok {
		End(span, data.Err)
	}
}
