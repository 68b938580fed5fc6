package loadgen

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 … 1, unsorted
	}
	for _, tc := range []struct {
		name     string
		lat      []time.Duration
		p50, p99 float64
	}{
		{"none", nil, 0, 0},
		{"one", ms(7), 7, 7},
		{"unsorted", ms(9, 1, 5), 5, 9},
		{"hundred", ms(hundred...), 51, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p50, p99 := Percentiles(tc.lat)
			if p50 != tc.p50 || p99 != tc.p99 {
				t.Errorf("Percentiles = %v, %v; want %v, %v", p50, p99, tc.p50, tc.p99)
			}
		})
	}
}

func TestRunCountsFailuresApart(t *testing.T) {
	boom := errors.New("boom")
	r := Run(context.Background(), 2, 200*time.Millisecond, func(ctx context.Context, i int) error {
		time.Sleep(time.Millisecond)
		if i%2 == 1 { // worker 1 makes the odd calls
			return boom
		}
		return nil
	})
	if r.Done == 0 || r.Errors == 0 || !errors.Is(r.FirstError, boom) {
		t.Fatalf("Run = %+v; want successes, failures and the first error", r)
	}
	if r.P50 < 1 || r.P99 < r.P50 || r.Rate <= 0 {
		t.Errorf("Run = %+v; want p50 ≥ 1 ms ≤ p99 and a rate", r)
	}
}

// A call in flight when the run's time is up runs to its end: none fails
// for the run ending, and none starts after it.
func TestRunLetsCallsInFlightFinish(t *testing.T) {
	start := time.Now()
	r := Run(context.Background(), 3, 10*time.Millisecond, func(ctx context.Context, i int) error {
		if i >= 3 {
			return fmt.Errorf("call %d started after the run's time", i)
		}
		select {
		case <-time.After(50 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if r.Done != 3 || r.Errors != 0 {
		t.Fatalf("Run = %+v; want the 3 calls in flight done and no error", r)
	}
	if r.P50 < 50 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("Run = %+v after %s; want it to wait for the calls (50 ms)", r, time.Since(start))
	}
}
