// Package metrics is each process's Prometheus registry: RPC rates,
// latencies and errors per method (from gRPC interceptors), the Go and
// process collectors, and gauges a service adds for its own state (outbox
// size, feed progress, overdue clocks, due jobs). /metrics serves it on the
// service's side HTTP port, never on the public one.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Metrics is one process's registry.
type Metrics struct {
	Registry *prometheus.Registry
	// FeedEvents counts events read from other services' feeds, by feed.
	FeedEvents *prometheus.CounterVec
	// FeedLag is, by feed, how old the newest event of the last batch was
	// when it was applied; 0 when the consumer is caught up.
	FeedLag *prometheus.GaugeVec
	service string
	rpcs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// New returns the registry of service, with the RPC metrics and the Go and
// process collectors registered.
func New(service string) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		service:  service,
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tongban_rpc_requests_total", Help: "gRPC calls handled, by method and status code.",
			ConstLabels: prometheus.Labels{"service": service},
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tongban_rpc_duration_seconds", Help: "Time to handle a gRPC call (a stream: its whole life), by method.",
			ConstLabels: prometheus.Labels{"service": service},
			Buckets:     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"method"}),
	}
	labels := prometheus.Labels{"service": service}
	m.FeedEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tongban_feed_events_total", Help: "Events read from another service's feed and applied (or skipped as applied before).", ConstLabels: labels,
	}, []string{"feed"})
	m.FeedLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tongban_feed_lag_seconds", Help: "Age of the newest event of the last batch when it was applied; 0 when caught up.", ConstLabels: labels,
	}, []string{"feed"})
	r.MustRegister(m.rpcs, m.latency, m.FeedEvents, m.FeedLag, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observe(method string, start time.Time, err error) {
	m.rpcs.WithLabelValues(method, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

// UnaryServerInterceptor counts and times unary calls.
func (m *Metrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		m.observe(info.FullMethod, start, err)
		return resp, err
	}
}

// StreamServerInterceptor counts and times streams.
func (m *Metrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		m.observe(info.FullMethod, start, err)
		return err
	}
}

// Gauge registers a gauge read when scraped (f should be cheap and must
// not block for long: it runs with the scrape's request).
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: name, Help: help, ConstLabels: prometheus.Labels{"service": m.service},
	}, f))
}

// GaugeVec registers gauges with one label, all read by f when scraped.
func (m *Metrics) GaugeVec(name, help, label string, f func() map[string]float64) {
	m.Registry.MustRegister(&vecCollector{
		desc: prometheus.NewDesc(name, help, []string{label}, prometheus.Labels{"service": m.service}),
		f:    f,
	})
}

type vecCollector struct {
	desc *prometheus.Desc
	f    func() map[string]float64
}

func (c *vecCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *vecCollector) Collect(ch chan<- prometheus.Metric) {
	for v, x := range c.f() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, x, v)
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
