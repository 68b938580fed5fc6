package server

import (
	"fmt"
	"testing"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/devkit/authtest"
)

// BenchmarkListCases serves the list page of make bench-intake's read run
// (50 cases, the BASIC view, as the county's bureau) over gRPC on
// loopback: its CPU and allocations per page, without the gateway.
func BenchmarkListCases(b *testing.B) {
	s := newServer(b)
	office := grpcClient(b, s, "demo-dayun")
	rows := make([]*intakev1.ImportCasesRequest, 200)
	for i := range rows {
		c := validCase()
		c.Subject = fmt.Sprintf("小区雨污管网破损 %d", i)
		c.Petitioners[0].IdNumber, c.Petitioners[0].Phone = "", ""
		rows[i] = &intakev1.ImportCasesRequest{Case: c}
	}
	if resp := importRows(b, office, rows); resp.GetRegistered() != int32(len(rows)) {
		b.Fatalf("import: %v", outcomes(resp))
	}
	bureau := grpcClient(b, s, "demo-bureau")
	ctx := authtest.As(b, "demo-bureau")
	b.ReportAllocs()
	for b.Loop() {
		page, err := bureau.ListCases(ctx, &intakev1.ListCasesRequest{PageSize: 50})
		if err != nil {
			b.Fatal(err)
		}
		if len(page.GetCases()) != 50 {
			b.Fatalf("%d cases", len(page.GetCases()))
		}
	}
}
