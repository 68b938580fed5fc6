// Command auditverify checks the hash chain of every service's audit log:
// each entry must follow the previous one without a gap, hash to what it
// says, and the chain must end at the head. It exits 1 when a chain is
// broken, naming the first bad entry.
//
//	go run ./tools/auditverify                      # the make run cluster
//	go run ./tools/auditverify -database postgres://…/tongban -schemas intake
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongban/tongban/services/platform/audit"
)

func main() {
	db := flag.String("database", "postgres://postgres@127.0.0.1:54329/tongban?sslmode=disable", "the cluster's database (make run's by default)")
	schemas := flag.String("schemas", "intake,assignment,scheduling,reporting,accounts", "the schemas to check (the services' and the gateway's accounts)")
	flag.Parse()
	broken, err := run(context.Background(), *db, strings.Split(*schemas, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditverify:", err)
		os.Exit(2)
	}
	if broken {
		os.Exit(1)
	}
}

func run(ctx context.Context, url string, schemas []string) (broken bool, err error) {
	for _, schema := range schemas {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			return false, err
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = strings.TrimSpace(schema)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return false, err
		}
		n, err := audit.Verify(ctx, pool)
		pool.Close()
		switch {
		case err != nil:
			fmt.Printf("%-10s BROKEN after %d good entries: %v\n", schema, n, err)
			broken = true
		default:
			fmt.Printf("%-10s %d entries, chain verified\n", schema, n)
		}
	}
	return broken, nil
}
