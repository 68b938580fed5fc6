package outbox

import (
	"testing"
	"time"
)

func TestLinger(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		n, page  int
		interval time.Duration
		want     time.Duration
	}{
		{"a trickle travels on at once", 3, 200, 60 * ms, lingerDelay},
		{"just below busy", busyBatch - 1, 200, 60 * ms, lingerDelay},
		{"busy: the next page fills in 150 ms", 80, 200, 100 * ms, 150 * ms},
		{"busy and fast: never below the quiet linger", 180, 200, 60 * ms, lingerDelay},
		{"busy but slow: at most maxLinger", 70, 200, time.Second, maxLinger},
		{"the first read (no interval)", 50, 200, 0, lingerDelay},
		{"a full page is not lingered on here", 200, 200, 60 * ms, lingerDelay},
	} {
		if got := linger(tc.n, tc.page, tc.interval); got != tc.want {
			t.Errorf("%s: linger(%d, %d, %v) = %v, want %v", tc.name, tc.n, tc.page, tc.interval, got, tc.want)
		}
	}
}
