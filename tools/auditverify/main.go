// Command auditverify checks the hash chain of every service's audit log:
// each entry must follow the previous one without a gap, hash to what it
// says, and the chain must end at the head. It exits 1 when a chain is
// broken, naming the first bad entry.
//
// That shows only that the chains are consistent: whoever can write the
// database can rewrite a chain and recompute every hash. With -heads, the
// directory where the services publish their signed chain heads (see
// package audit's HeadSigner), and -public-keys, it also checks that each
// chain still passes through every head that was signed, and names the
// first signed entry that no longer matches and where the change lies.
//
//	go run ./tools/auditverify                      # the make run cluster
//	go run ./tools/auditverify -database postgres://…/tongban -schemas intake
//	go run ./tools/auditverify -heads /var/lib/tongban/audit-heads -public-keys audit-2026:…
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/audit"
)

func main() {
	db := flag.String("database", "postgres://postgres@127.0.0.1:54329/tongban?sslmode=disable", "the cluster's database (make run's by default)")
	schemas := flag.String("schemas", "intake,assignment,scheduling,reporting,accounts", "the schemas to check (the services' and the gateway's accounts)")
	heads := flag.String("heads", "", "the directory the services publish their signed chain heads in (TONGBAN_AUDIT_HEADS_DIR); each schema's are in its subfolder")
	pub := flag.String("public-keys", os.Getenv("TONGBAN_AUDIT_PUBLIC_KEYS"), `the heads' public keys, "kid:base64,…" (default $TONGBAN_AUDIT_PUBLIC_KEYS)`)
	flag.Parse()
	o := options{url: *db, heads: *heads}
	for _, s := range strings.Split(*schemas, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.schemas = append(o.schemas, s)
		}
	}
	if o.heads != "" {
		keys, err := audit.ParsePublicKeys(*pub)
		if err != nil {
			fmt.Fprintln(os.Stderr, "auditverify: -heads needs -public-keys:", err)
			os.Exit(2)
		}
		o.keys = keys
	}
	broken, err := run(context.Background(), os.Stdout, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditverify:", err)
		os.Exit(2)
	}
	if broken {
		os.Exit(1)
	}
}

type options struct {
	url     string
	schemas []string
	heads   string // the signed heads' directory ("": the chains only)
	keys    map[string]ed25519.PublicKey
	now     func() time.Time // default time.Now
}

func run(ctx context.Context, w io.Writer, o options) (broken bool, err error) {
	for _, schema := range o.schemas {
		cfg, err := pgxpool.ParseConfig(o.url)
		if err != nil {
			return false, err
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return false, err
		}
		n, err := audit.Verify(ctx, pool)
		switch {
		case err != nil:
			fmt.Fprintf(w, "%-10s BROKEN after %d good entries: %v\n", schema, n, err)
			broken = true
		default:
			fmt.Fprintf(w, "%-10s %d entries, chain verified\n", schema, n)
		}
		if o.heads != "" {
			ok, err := checkSigned(ctx, w, pool, schema, o)
			if err != nil {
				pool.Close()
				return broken, fmt.Errorf("%s: %w", schema, err)
			}
			broken = broken || !ok
		}
		pool.Close()
	}
	if o.heads == "" {
		fmt.Fprintln(w, "The chains were checked only for internal consistency, not against signed heads: someone who can write the database could have rewritten a whole chain (check with -heads DIR -public-keys …).")
	}
	return broken, nil
}

// checkSigned checks schema's chains against the heads signed in its
// folder of o.heads. A missing or empty series fails: the services sign at
// start, so a schema that has a log has records unless they were removed.
func checkSigned(ctx context.Context, w io.Writer, pool *pgxpool.Pool, schema string, o options) (ok bool, err error) {
	dir := filepath.Join(o.heads, schema)
	records, err := audit.LoadSigned(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && len(records) == 0:
		fmt.Fprintf(w, "%-10s NO SIGNED HEADS in %s: the chains cannot be checked against a signature\n", schema, dir)
		return false, nil
	case err != nil:
		fmt.Fprintf(w, "%-10s SIGNED HEADS UNREADABLE: %v\n", schema, err)
		return false, nil
	}
	for _, r := range records {
		if r.Subdir() != schema {
			fmt.Fprintf(w, "%-10s SIGNED HEADS REFUSED: %s holds %s's heads\n", schema, r.File, r.Subdir())
			return false, nil
		}
	}
	rep, err := audit.VerifySigned(ctx, pool, records, o.keys)
	switch {
	case errors.Is(err, audit.ErrSignature):
		fmt.Fprintf(w, "%-10s SIGNED HEADS REFUSED: %v\n", schema, err)
		return false, nil
	case errors.Is(err, audit.ErrBroken):
		fmt.Fprintf(w, "%-10s CHANGED SINCE SIGNED; in each chain changed, the first signed entry that no longer matches:\n", schema)
		for _, m := range rep.Broken {
			fmt.Fprintf(w, "%-10s   %s\n", "", m)
		}
		return false, nil
	case err != nil:
		return false, err
	}
	now := time.Now
	if o.now != nil {
		now = o.now
	}
	fmt.Fprintf(w, "%-10s %d signed heads in %d records match; the newest signed %s (%s ago), entries since are covered by the chain alone\n",
		schema, rep.Heads, rep.Records, rep.Latest.UTC().Format(time.RFC3339), now().Sub(rep.Latest).Round(time.Second))
	return true, nil
}
