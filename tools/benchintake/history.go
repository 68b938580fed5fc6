package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
)

// history measures registration at clients for a new petitioner and for
// one with -heavy-history earlier cases in the repeat window (a long-term
// petitioner, or a hotline number many callers give), in the same run: the
// repeat look-up reads a bounded number of earlier cases, so the second
// should cost what the first does.
func history(ctx context.Context, intake intakev1.IntakeServiceClient, admin *pgx.Conn, hc *http.Client, base string, clients int,
	dur time.Duration, out io.Writer, measure func(string, func() int)) error {
	heavy := people.newPerson()
	heavyCase := func() *intakev1.Case {
		return caseOf([]*intakev1.Petitioner{heavy.petitioner()}, 1)
	}
	logf("a petitioner's history of %d cases…", heavyHistory)
	for done := 0; done < heavyHistory; {
		cases := make([]*intakev1.Case, min(10000, heavyHistory-done))
		for i := range cases {
			cases[i] = heavyCase()
		}
		if _, _, err := importCases(ctx, intake, cases); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		done += len(cases)
	}
	settle(ctx, admin)
	var fresh result
	for _, r := range []struct {
		label, row string
		kase       func() *intakev1.Case
	}{
		{"REST registration, a new petitioner", "REST POST /v1/cases, a new petitioner", freshCase},
		{"REST registration, a long history", fmt.Sprintf("REST POST /v1/cases, a petitioner with %d earlier cases in the window", heavyHistory), heavyCase},
	} {
		logf("%s, %d clients…", r.label, clients)
		var res result
		measure(fmt.Sprintf("%s, %d clients", r.label, clients), func() int {
			res = load(ctx, clients, dur, func(ctx context.Context, _ int) error { return restCreateCase(ctx, hc, base, r.kase()) })
			return res.done
		})
		ratio := ""
		if fresh.rate == 0 {
			fresh = res
		} else {
			ratio = fmt.Sprintf("%.2f of the new petitioner's", res.rate/fresh.rate)
		}
		fmt.Fprintf(out, "| %s | %d | %.0f | %.2f | %.2f | %s |\n", r.row, clients, res.rate, res.p50, res.p99, ratio)
	}
	return nil
}
