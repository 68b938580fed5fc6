// Package loadgen is the closed-loop load generator of the benchmarks:
// n workers each keep one request in flight for a duration, and the
// latencies of the successful ones give the rate and the percentiles.
package loadgen

import (
	"context"
	"sort"
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
// measures it. Failed calls count out of the rate.
func Run(ctx context.Context, n int, dur time.Duration, fn func(ctx context.Context, i int) error) Result {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var (
		mu    sync.Mutex
		all   []time.Duration
		res   Result
		wg    sync.WaitGroup
		start = time.Now()
	)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			bad := 0
			var e error
			for i := w; ctx.Err() == nil; i += n {
				t := time.Now()
				if err := fn(ctx, i); err != nil {
					// A call ending with the run is not a failure; nor is
					// one in its last 50 ms: gRPC sends the deadline as a
					// timeout, so the server's ends first and calls made
					// then fail at once (the "errors" of earlier runs).
					if deadline, _ := ctx.Deadline(); ctx.Err() == nil && time.Until(deadline) > 50*time.Millisecond {
						bad++
						e = err
					}
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
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	res.Done = len(all)
	res.Rate, res.P50, res.P99 = float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.99)
	return res
}
