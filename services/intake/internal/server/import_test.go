package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/devkit/authtest"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/outbox"
)

// grpcClient serves s on a loopback port and returns a client sending token.
func grpcClient(t testing.TB, s *Server, token string) intakev1.IntakeServiceClient {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(directory.Demo()).WithDemoTokens()
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
	intakev1.RegisterIntakeServiceServer(srv, s)
	go srv.Serve(l) //nolint:errcheck
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), auth.DialToken(token))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return intakev1.NewIntakeServiceClient(conn)
}

func importRows(t testing.TB, client intakev1.IntakeServiceClient, rows []*intakev1.ImportCasesRequest) *intakev1.ImportCasesResponse {
	t.Helper()
	stream, err := client.ImportCases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func outcomes(resp *intakev1.ImportCasesResponse) string {
	var s string
	for _, r := range resp.GetResults() {
		s += strconv.Itoa(int(r.GetLine())) + ":" + r.GetOutcome().String()[len("IMPORT_OUTCOME_"):] + " "
	}
	return s
}

func TestImportCases(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	client := grpcClient(t, s, "demo-dayun")
	ref := func(ext string) *intakev1.Case {
		c := validCase()
		c.Channel, c.SourceSystem, c.ExternalId = intakev1.Channel_CHANNEL_REFERRAL, "330421102-xfxt", ext
		c.Petitioners[0].IdNumber, c.Petitioners[0].Phone = "", "" // keep repeats out of it
		return c
	}
	bad := ref("E-2")
	bad.Subject = ""
	bad.Petitioners[0].IdNumber = "330421199001011247"
	rows := []*intakev1.ImportCasesRequest{
		{Case: ref("E-1"), RequestId: "batch-1"},
		{Case: bad},
		{Case: ref("E-3")},
		{Case: ref("E-1")}, // the same outside case twice in one file
	}
	resp := importRows(t, client, rows)
	if got, want := outcomes(resp), "1:REGISTERED 2:REJECTED 3:REGISTERED 4:EXISTING "; got != want {
		t.Fatalf("outcomes %q, want %q: %v", got, want, resp)
	}
	if resp.GetResults()[3].GetName() != resp.GetResults()[0].GetName() {
		t.Errorf("the repeated row names %s, want %s", resp.GetResults()[3].GetName(), resp.GetResults()[0].GetName())
	}
	if v := resp.GetResults()[1].GetViolations(); len(v) != 2 || v[0].GetField() != "case.subject" {
		t.Errorf("line 2 violations: %v", v)
	}
	if resp.GetRegistered() != 2 || resp.GetRejected() != 1 || resp.GetExisting() != 1 {
		t.Errorf("counts: %v", resp)
	}

	// Sending the file again registers nothing new.
	again := importRows(t, client, []*intakev1.ImportCasesRequest{{Case: ref("E-1"), RequestId: "batch-1"}, {Case: ref("E-3")}})
	if got := outcomes(again); got != "1:EXISTING 2:EXISTING " {
		t.Errorf("re-import: %s", got)
	}

	// all_or_nothing with a bad row and validate_only register nothing.
	for _, first := range []*intakev1.ImportCasesRequest{
		{Case: ref("E-10"), AllOrNothing: true},
		{Case: ref("E-10"), ValidateOnly: true},
	} {
		var r []*intakev1.ImportCasesRequest
		r = append(r, first, &intakev1.ImportCasesRequest{Case: ref("E-11")})
		if first.GetAllOrNothing() {
			r = append(r, &intakev1.ImportCasesRequest{Case: bad})
		}
		resp := importRows(t, client, r)
		if resp.GetRegistered() != 0 || resp.GetNotRegistered() != 2 {
			t.Errorf("%v: %v", first, outcomes(resp))
		}
	}
	// all_or_nothing with every row valid registers them all.
	all := importRows(t, client, []*intakev1.ImportCasesRequest{{Case: ref("E-20"), AllOrNothing: true}, {Case: ref("E-21")}})
	if all.GetRegistered() != 2 {
		t.Errorf("all valid, all_or_nothing: %s", outcomes(all))
	}
	var n int
	if err := s.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cases`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d cases stored, %v; want 4", n, err)
	}
}

// TestImportRepeats: the set-based path links repeats like registrations
// one by one: to a case in the database, and to an earlier row of the file,
// in the same batch or an earlier one (whose commit the later batch waits
// for).
func TestImportRepeats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rows  int
		keyed bool // the first row has a request id (registered first, on its own)
	}{{0, false}, {1, false}, {2, false}, {0, true}, {1, true}} {
		t.Run(fmt.Sprintf("batches of %d, keyed %v", tc.rows, tc.keyed), func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			s.bulkRows = tc.rows
			client := grpcClient(t, s, "demo-dayun")
			ctx := authtest.As(t, "demo-dayun")
			earlier, err := s.CreateCase(ctx, &intakev1.CreateCaseRequest{Case: matterOn(1, idNumber, "")})
			if err != nil {
				t.Fatal(err)
			}
			rows := []*intakev1.ImportCasesRequest{
				{Case: matterOn(2, "", phone)},                   // new matter by phone only
				{Case: matterOn(3, idNumber, "")},                // repeats the database's case
				{Case: matterOn(4, "330421198503150024", phone)}, // repeats row 1 by phone
				{Case: matterOn(5, "330421198503150024", "")},    // repeats row 3, whose first case is row 1's
			}
			if tc.keyed {
				rows[0].RequestId = "row-1"
			}
			resp := importRows(t, client, rows)
			if resp.GetRegistered() != 4 {
				t.Fatalf("import: %v", outcomes(resp))
			}
			want := []string{"", earlier.GetCase().GetName(), resp.GetResults()[0].GetName(), resp.GetResults()[0].GetName()}
			checkRepeats(t, s, resp, want)
			// The plain rows' numbers were drawn at once, in line order: no
			// batch failed (on a repeat_of its earlier batch had not
			// committed yet) and fell back to registering row by row.
			for i := 2; i < len(resp.GetResults()); i++ {
				prev, r := resp.GetResults()[i-1].GetName(), resp.GetResults()[i].GetName()
				if seq(t, r) != seq(t, prev)+1 {
					t.Errorf("line %d is %s after %s: a batch was registered row by row", i+1, r, prev)
				}
			}
			evs, err := outbox.Written(context.Background(), s.Store.Pool)
			if err != nil || len(evs) != 5 {
				t.Fatalf("%d events, %v; want 5", len(evs), err)
			}
			for _, ev := range evs {
				if names.Case(ev.GetCaseNumber()) == resp.GetResults()[1].GetName() &&
					ev.GetCaseRegistered().GetRepeatOf() != earlier.GetCase().GetName() {
					t.Errorf("the event of row 2 says repeat of %q", ev.GetCaseRegistered().GetRepeatOf())
				}
			}
		})
	}
}

// TestImportFailedBatch: a batch that fails as a whole is registered row by
// row, and a later batch whose rows repeat one of its cases (by a number the
// failed batch never stored) fails in turn and is linked again.
func TestImportFailedBatch(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.bulkRows = 2
	ctx := context.Background()
	// The first batch's COPY fails once: the trigger raises on the first row
	// it sees with this subject (a sequence, which a rollback does not undo,
	// counts the attempts).
	if _, err := s.Store.Pool.Exec(ctx, `CREATE SEQUENCE fail_once;
		CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.subject = '失败一次' AND nextval('fail_once') = 1 THEN
				RAISE EXCEPTION 'the batch fails';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER fail_once BEFORE INSERT ON cases FOR EACH ROW EXECUTE FUNCTION fail_once()`); err != nil {
		t.Fatal(err)
	}
	failing := matterOn(2, "", phone)
	failing.Subject = "失败一次"
	resp := importRows(t, grpcClient(t, s, "demo-dayun"), []*intakev1.ImportCasesRequest{
		{Case: failing}, // batch 1: fails, then registered alone
		{Case: matterOn(3, "330421198503150024", "")},    // batch 1: a new matter
		{Case: matterOn(4, "", phone)},                   // batch 2: repeats row 1
		{Case: matterOn(5, "330421198503150024", phone)}, // batch 2: repeats rows 1 and 2; row 1 is earlier
		{Case: matterOn(6, "330421199001011248", "")},    // batch 3: unrelated
	})
	if got, want := outcomes(resp), "1:REGISTERED 2:REGISTERED 3:REGISTERED 4:REGISTERED 5:REGISTERED "; got != want {
		t.Fatalf("outcomes %q, want %q", got, want)
	}
	first := resp.GetResults()[0].GetName()
	checkRepeats(t, s, resp, []string{"", "", first, first, ""})
	var n int
	if err := s.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM cases`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("%d cases stored, %v; want 5", n, err)
	}
	evs, err := outbox.Written(ctx, s.Store.Pool)
	if err != nil || len(evs) != 5 {
		t.Fatalf("%d events, %v; want 5", len(evs), err)
	}
}

// matterOn is a case of one matter received on day of November 2026 from a
// petitioner with id and phone.
func matterOn(day int, id, phone string) *intakev1.Case {
	c := validCase()
	c.Topic = "城乡建设/排水"
	c.ReceiveTime = timestamppb.New(time.Date(2026, 11, day, 9, 0, 0, 0, time.UTC))
	c.Petitioners[0].IdNumber, c.Petitioners[0].Phone = id, phone
	return c
}

// checkRepeats checks that the import's rows are stored with their
// petitioner and repeat the cases want names.
func checkRepeats(t *testing.T, s *Server, resp *intakev1.ImportCasesResponse, want []string) {
	t.Helper()
	ctx := authtest.As(t, "demo-dayun")
	for i, r := range resp.GetResults() {
		got, err := s.GetCase(ctx, &intakev1.GetCaseRequest{Name: r.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetCase().GetRepeatOf() != want[i] {
			t.Errorf("row %d repeats %q, want %q", i+1, got.GetCase().GetRepeatOf(), want[i])
		}
		if p := got.GetCase().GetPetitioners(); len(p) != 1 || p[0].GetDisplayName() != "张三" {
			t.Errorf("row %d petitioners: %v", i+1, p)
		}
	}
}

// seq is the sequence part of a case's name.
func seq(t *testing.T, name string) int {
	t.Helper()
	n, err := strconv.Atoi(name[strings.LastIndex(name, "-")+1:])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImportAnalyzes: an import that registered analyzeRows rows or more
// has the cases and petitioners analyzed after it (in the background); a
// smaller one, a validate_only one and an all-rejected one do not.
func TestImportAnalyzes(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.analyzeRows = 3
	client := grpcClient(t, s, "demo-dayun")
	analyzed := func() (cases, petitioners int64) {
		t.Helper()
		err := s.Store.Pool.QueryRow(context.Background(), `SELECT
			(SELECT analyze_count FROM pg_stat_user_tables WHERE relid = 'cases'::regclass),
			(SELECT analyze_count FROM pg_stat_user_tables WHERE relid = 'petitioners'::regclass)`).Scan(&cases, &petitioners)
		if err != nil {
			t.Fatal(err)
		}
		return cases, petitioners
	}
	rows := func(n int) []*intakev1.ImportCasesRequest {
		out := make([]*intakev1.ImportCasesRequest, n)
		for i := range out {
			out[i] = &intakev1.ImportCasesRequest{Case: matterOn(i+1, "", "")}
		}
		return out
	}
	validateOnly := rows(5)
	validateOnly[0].ValidateOnly = true
	rejected := rows(5)
	for _, r := range rejected {
		r.Case.Subject = ""
	}
	for _, tc := range []struct {
		name string
		rows []*intakev1.ImportCasesRequest
	}{{"two rows", rows(2)}, {"validate_only", validateOnly}, {"all rejected", rejected}} {
		importRows(t, client, tc.rows)
		time.Sleep(200 * time.Millisecond) // an analysis would have begun
		for s.analyzing.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		if c, p := analyzed(); c != 0 || p != 0 {
			t.Fatalf("after %s: cases analyzed %d times, petitioners %d; want none", tc.name, c, p)
		}
	}
	if resp := importRows(t, client, rows(3)); resp.GetRegistered() != 3 {
		t.Fatalf("import: %v", outcomes(resp))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, p := analyzed()
		if c == 1 && p == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after three rows: cases analyzed %d times, petitioners %d; want once each", c, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
