// Package loadgen is the closed-loop load generator of the benchmarks:
// n workers each keep one request in flight for a duration, and the
// latencies of the successful ones give the rate and the percentiles.
package loadgen

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Result is a measured run: successful requests per second, latency
// percentiles in milliseconds, and the failures.
type Result struct {
	Rate, P50, P99 float64
	Done, Errors   int
	FirstError     error
}

// Run calls fn from n workers for dur (worker w makes calls w, w+n, …) and
// measures it. A worker starts no call after dur, and the calls in flight
// then run to their end: cancelling them would fail them on purpose, and
// it costs the servers more than the call (pgx closes a connection whose
// query is cancelled); only a call still running inFlightGrace after the
// run's time is cancelled, so that a hung call cannot hang the run. Failed
// calls count out of the rate.
func Run(ctx context.Context, n int, dur time.Duration, fn func(ctx context.Context, i int) error) Result {
	ctx, cancel := context.WithTimeout(ctx, dur+inFlightGrace)
	defer cancel()
	var (
		mu    sync.Mutex
		all   []time.Duration
		res   Result
		wg    sync.WaitGroup
		start = time.Now()
		stop  = start.Add(dur)
	)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			bad := 0
			var e error
			for i := w; ctx.Err() == nil && time.Now().Before(stop); i += n {
				t := time.Now()
				if err := fn(ctx, i); err != nil {
					bad++
					e = err
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all, res.Errors = append(all, lat...), res.Errors+bad
			if res.FirstError == nil {
				res.FirstError = e
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Done = len(all)
	res.Rate = float64(len(all)) / elapsed.Seconds()
	res.P50, res.P99 = Percentiles(all)
	return res
}

// inFlightGrace is how long Run waits for the calls in flight at its end.
const inFlightGrace = time.Minute

// Percentiles returns the median and the 99th percentile of lat in
// milliseconds (zero for none), sorting lat in place.
func Percentiles(lat []time.Duration) (p50, p99 float64) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	return pct(0.50), pct(0.99)
}
