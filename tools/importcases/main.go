// Command importcases registers a file of cases through IntakeService's
// ImportCases stream, showing progress, then a summary and every row that
// was not registered.
//
//	go run ./tools/importcases -token demo-dayun cases.csv
//	go run ./tools/importcases -addr 127.0.0.1:7101 -all-or-nothing cases.ndjson
//
// A .csv file follows services/intake/csvcase; any other file is read as
// newline-delimited JSON, one ImportCasesRequest a line.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/intake/csvcase"
	"github.com/tongban/tongban/services/platform/app"
	"github.com/tongban/tongban/services/platform/auth"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7101", "intake's gRPC address")
	token := flag.String("token", os.Getenv("TONGBAN_TOKEN"), "the importing office's token (or $TONGBAN_TOKEN)")
	validateOnly := flag.Bool("validate-only", false, "check every row, register none")
	allOrNothing := flag.Bool("all-or-nothing", false, "register nothing unless every row is valid")
	flag.Parse()
	if flag.NArg() != 1 || *token == "" {
		fmt.Fprintln(os.Stderr, "usage: importcases -token TOKEN [-addr HOST:PORT] [-validate-only] [-all-or-nothing] FILE.csv|FILE.ndjson")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *token, flag.Arg(0), *validateOnly, *allOrNothing, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "importcases:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, token, path string, validateOnly, allOrNothing bool, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), auth.DialToken(token),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(app.MaxMessage)))
	if err != nil {
		return err
	}
	defer conn.Close()
	stream, err := intakev1.NewIntakeServiceClient(conn).ImportCases(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	sent := 0
	send := func(_ int, req *intakev1.ImportCasesRequest) error {
		if sent == 0 {
			req.ValidateOnly, req.AllOrNothing = validateOnly, allOrNothing
		}
		sent++
		if sent%500 == 0 {
			fmt.Fprintf(out, "\rsent %d rows…", sent)
		}
		return stream.Send(req)
	}
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		err = csvcase.Read(f, send)
	} else {
		err = readNDJSON(f, send)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err // the stream is abandoned with ctx: nothing is registered
	}
	fmt.Fprintf(out, "\rsent %d rows; the server is registering them…\n", sent)
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d registered, %d already registered, %d rejected, %d not registered (%s)\n",
		resp.GetRegistered(), resp.GetExisting(), resp.GetRejected(), resp.GetNotRegistered(), time.Since(start).Round(time.Millisecond))
	for _, r := range resp.GetResults() {
		switch r.GetOutcome() {
		case intakev1.ImportOutcome_IMPORT_OUTCOME_REJECTED:
			for _, v := range r.GetViolations() {
				fmt.Fprintf(out, "row %d: %s: %s\n", r.GetLine(), v.GetField(), v.GetDescription())
			}
		case intakev1.ImportOutcome_IMPORT_OUTCOME_NOT_REGISTERED:
			fmt.Fprintf(out, "row %d: not registered: %s\n", r.GetLine(), r.GetError())
		}
	}
	return nil
}

func readNDJSON(r io.Reader, fn func(int, *intakev1.ImportCasesRequest) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), app.MaxMessage)
	row := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		row++
		req := &intakev1.ImportCasesRequest{}
		if err := protojson.Unmarshal([]byte(line), req); err != nil {
			return fmt.Errorf("row %d: %w", row, err)
		}
		if err := fn(row, req); err != nil {
			return err
		}
	}
	return sc.Err()
}
