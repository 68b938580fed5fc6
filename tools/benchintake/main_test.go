package main

import (
	"strings"
	"testing"
	"time"
)

func TestPgbenchLatencies(t *testing.T) {
	for _, tc := range []struct {
		name, log string
		want      []time.Duration
		err       bool
	}{
		{"transactions", "0 199 2241 0 1175850568 995598\n1 0 2465 0 1175850568 998233\n", []time.Duration{2241 * time.Microsecond, 2465 * time.Microsecond}, false},
		{"skipped and failed left out", "3 1 skipped 0 1175850569 10\n3 2 failed 0 1175850569 11\n3 3 900 0 1175850569 12 4\n", []time.Duration{900 * time.Microsecond}, false},
		{"empty", "", nil, false},
		{"short line", "0 1 2241\n", nil, true},
		{"not a number", "0 1 2.5ms 0 1 2\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pgbenchLatencies(strings.NewReader(tc.log))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestIOLine(t *testing.T) {
	before := ioSnapshot{wal: 1 << 20, written: 4 << 20}
	for _, tc := range []struct {
		after ioSnapshot
		ops   int
		want  string
	}{
		{ioSnapshot{wal: 1<<20 + 10240, written: 4<<20 + 20480}, 1, "WAL 10.0 kB, disk writes 20.0 kB"},
		{ioSnapshot{wal: 1<<20 + 10240, written: 4<<20 + 20480}, 4, "WAL 2.5 kB, disk writes 5.0 kB"},
		{ioSnapshot{wal: 1 << 21, written: 1 << 23}, 0, ""},
	} {
		if got := ioLine(before, tc.after, tc.ops); got != tc.want {
			t.Errorf("ioLine(%v, %v, %d) = %q, want %q", before, tc.after, tc.ops, got, tc.want)
		}
	}
}
