package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tongban/tongban/services/devkit/loadgen"
	"github.com/tongban/tongban/services/devkit/pgcluster"
)

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbenchRegistration runs pgbench with the statements one registration
// executes (see services/intake/internal/server.register and the store):
// the idempotency claim, the case-number counter, the repeat look-up, the
// case row, its sealed petitioner, the outbox event and the stored receipt;
// each client appends to an audit chain of its own (client_id % 8), as each
// of intake's connections does (audit.chainOf).
func pgbenchRegistration(ctx context.Context, c *pgcluster.Cluster, clients int, dur time.Duration, dir string) (result, error) {
	script := `\set n random(1, 2000000000)
\set t random(1, 9)
\set chain :client_id % 8
BEGIN;
INSERT INTO idempotency_keys (scope, method, request_id, request_hash) VALUES ('330421102', 'CreateCase', 'pgb-' || :n || '-' || :client_id, sha256(:n::text::bytea)) ON CONFLICT DO NOTHING;
SELECT nextval('case_seq_330421_YEAR') AS last_value \gset
WITH p AS MATERIALIZED (SELECT m.* FROM unnest(ARRAY[sha256(:n::text::bytea)]) AS h(hash) CROSS JOIN LATERAL (SELECT case_number, id_number_hash, phone_hash FROM petitioners WHERE id_number_hash = h.hash AND receive_time >= now() - interval '180 days' ORDER BY receive_time DESC LIMIT 8) m UNION SELECT m.* FROM unnest(ARRAY[sha256((:n + 1)::text::bytea)]) AS h(hash) CROSS JOIN LATERAL (SELECT case_number, id_number_hash, phone_hash FROM petitioners WHERE phone_hash = h.hash AND receive_time >= now() - interval '180 days' ORDER BY receive_time DESC LIMIT 8) m) SELECT c.case_number, coalesce(c.repeat_of, c.case_number), c.township, c.topic, c.case_class, c.receive_time, coalesce(p.id_number_hash, ''), coalesce(p.phone_hash, ''), c.registered_by, c.involved_offices, coalesce(r.involved_offices, c.involved_offices), coalesce(r.state, c.state) FROM p CROSS JOIN LATERAL (SELECT * FROM cases WHERE case_number = p.case_number AND county = '330421' AND receive_time >= now() - interval '180 days' LIMIT 1) c LEFT JOIN LATERAL (SELECT involved_offices, state FROM cases WHERE case_number = c.repeat_of) r ON true;
INSERT INTO cases (case_number, county, township, channel, case_class, topic, subject, content, anonymous, head_count, registered_by, registered_role, receive_time, state, holder_office, involved_offices) VALUES ('330421-YEAR-' || lpad(:last_value::text, 9, '0'), '330421', '33042110' || :t, 1, 3, '城乡建设/排水', '小区雨污管网破损，雨天污水外溢', repeat('本人反映小区雨污管网破损已三个月，雨天污水外溢影响出行与卫生，多次向物业反映未果，请求尽快协调维修。', 14), false, 1, '330421102', 'clerk', now(), 1, '330421102', ARRAY['330421102']) RETURNING create_time, update_time, version;
INSERT INTO petitioners (case_number, ordinal, kind, representative, key_id, name_enc, id_number_enc, phone_enc, id_number_hash, phone_hash, receive_time) VALUES ('330421-YEAR-' || lpad(:last_value::text, 9, '0'), 1, 1, false, 'k1', sha256(:n::text::bytea) || sha256('n'::bytea), sha256(:n::text::bytea) || sha256('i'::bytea) || sha256('x'::bytea), sha256(:n::text::bytea) || sha256('p'::bytea), sha256(:n::text::bytea), sha256((:n + 1)::text::bytea), now());
INSERT INTO outbox (event_id, case_number, kind, payload) VALUES (gen_random_uuid(), '330421-YEAR-' || lpad(:last_value::text, 9, '0'), 'tongban.events.v1.CaseRegistered', sha256(:n::text::bytea) || sha256(:t::text::bytea) || sha256('e'::bytea) || sha256('f'::bytea));
SELECT c.seq, c.hash, ARRAY(SELECT nextval('audit_seq') FROM generate_series(1, 1)) FROM audit_chains c WHERE c.chain = :chain FOR UPDATE;
INSERT INTO audit_log (seq, at, office, role, account, action, case_number, request_id, peer, detail, prev_hash, hash, chain, chain_seq) SELECT currval('audit_seq'), now(), '330421102', 'clerk', 'accounts/dayun.clerk', 'case.register', '330421-YEAR-' || lpad(:last_value::text, 9, '0'), 'pgb-' || :n, '127.0.0.1:40000', 'channel=CHANNEL_VISIT class=CASE_CLASS_REQUEST township=330421102', c.hash, sha256(c.hash || :n::text::bytea), :chain, c.seq + 1 FROM audit_chains c WHERE c.chain = :chain;
UPDATE audit_chains SET seq = seq + 1, hash = sha256(hash || :n::text::bytea) WHERE chain = :chain;
UPDATE idempotency_keys SET response = sha256(:n::text::bytea) WHERE scope = '330421102' AND method = 'CreateCase' AND request_id = 'pgb-' || :n || '-' || :client_id;
COMMIT;
`
	year := strconv.Itoa(time.Now().In(time.FixedZone("CST", 8*3600)).Year())
	script = strings.ReplaceAll(script, "YEAR", year)
	// The ceiling runs on copies of intake's tables (same columns, defaults
	// and indexes; no foreign key or trigger, so if anything it is the
	// faster of the two) in a schema of its own: its stand-in events are not
	// events, and in intake's own outbox they stopped the feed for the rest
	// of the run (every earlier figure was measured so: with the consumers
	// stalled). Here intake's consumers see only the service's cases.
	ddl := `CREATE SCHEMA IF NOT EXISTS ceiling; CREATE SEQUENCE IF NOT EXISTS ceiling.case_seq_330421_` + year + `;`
	for _, t := range []string{"idempotency_keys", "cases", "petitioners", "outbox", "audit_log", "audit_chains"} {
		ddl += likeTable("ceiling."+t, "intake."+t)
	}
	// The audit log's eight chains, and its sequence.
	ddl += ` CREATE SEQUENCE IF NOT EXISTS ceiling.audit_seq; INSERT INTO ceiling.audit_chains (chain, seq, hash)
		SELECT g, 0, '\x'::bytea FROM generate_series(0, 7) g ON CONFLICT DO NOTHING;`
	// The county's history (-preload) as intake has it, once: the ceiling's
	// indexes as deep as the service's, its sequences and audit chains
	// where intake's are.
	ddl += ` DO $$ BEGIN IF NOT EXISTS (SELECT FROM ceiling.cases) THEN
		INSERT INTO ceiling.cases SELECT * FROM intake.cases;
		INSERT INTO ceiling.petitioners SELECT * FROM intake.petitioners;
		INSERT INTO ceiling.idempotency_keys SELECT * FROM intake.idempotency_keys;
		INSERT INTO ceiling.outbox SELECT * FROM intake.outbox;
		INSERT INTO ceiling.audit_log SELECT * FROM intake.audit_log;
		UPDATE ceiling.audit_chains c SET seq = i.seq, hash = i.hash FROM intake.audit_chains i WHERE i.chain = c.chain;
		PERFORM setval('ceiling.audit_seq', (SELECT coalesce(max(seq), 0) + 1 FROM ceiling.audit_log));
		PERFORM setval('ceiling.case_seq_330421_` + year + `', (SELECT coalesce(max(substr(case_number, 13)::bigint), 0) + 1
			FROM ceiling.cases WHERE case_number LIKE '330421-` + year + `-%'));
		ANALYZE ceiling.cases, ceiling.petitioners, ceiling.idempotency_keys, ceiling.outbox, ceiling.audit_log;
	END IF; END $$;`
	if err := execSQL(ctx, c.URL("bench"), ddl); err != nil {
		return result{}, err
	}
	path := filepath.Join(dir, fmt.Sprintf("register-%d.sql", clients))
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return result{}, err
	}
	bin, err := pgcluster.BinDir()
	if err != nil {
		return result{}, err
	}
	// Every transaction's latency is logged (-l), for the ceiling's own
	// percentiles: the service's p99 has the same disk and cores under it.
	logPrefix := filepath.Join(dir, fmt.Sprintf("pgbench-%d-%d", clients, time.Now().UnixNano()))
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pgbench"), "-n", "-M", pgbenchMode, "-c", strconv.Itoa(clients),
		"-j", strconv.Itoa(min(clients, runtime.NumCPU())), "-T", strconv.Itoa(int(dur.Seconds())), "-f", path,
		"-l", "--log-prefix="+logPrefix,
		"-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres", "bench")
	// Plans cached as the service's are (-plan-cache auto: PostgreSQL's
	// choice, generic after five executions, as for pgx's prepared
	// statements); force_custom_plan plans every execution anew.
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path=ceiling -c plan_cache_mode="+planCacheMode)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("pgbench: %w\n%s", err, b)
	}
	tps := tpsRe.FindSubmatch(b)
	if tps == nil {
		return result{}, fmt.Errorf("pgbench output not understood:\n%s", b)
	}
	r := result{}
	r.rate, _ = strconv.ParseFloat(string(tps[1]), 64)
	logs, err := filepath.Glob(logPrefix + ".*")
	if err != nil || len(logs) == 0 {
		return result{}, fmt.Errorf("pgbench wrote no transaction log under %s", logPrefix)
	}
	var all []time.Duration
	for _, l := range logs {
		f, err := os.Open(l)
		if err != nil {
			return result{}, err
		}
		lat, err := pgbenchLatencies(f)
		f.Close()
		os.Remove(l)
		if err != nil {
			return result{}, fmt.Errorf("%s: %w", l, err)
		}
		all = append(all, lat...)
	}
	r.p50, r.p99 = loadgen.Percentiles(all)
	return r, nil
}

// pgbenchLatencies reads a pgbench transaction log (-l): one line per
// transaction, "client_id transaction_no time script_no time_epoch
// time_us", time being its latency in microseconds. Skipped or failed
// transactions ("skipped", "failed" in the time field) have none.
func pgbenchLatencies(r io.Reader) ([]time.Duration, error) {
	var out []time.Duration
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 6", line, len(f))
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			if f[2] == "skipped" || f[2] == "failed" {
				continue
			}
			return nil, fmt.Errorf("line %d: latency %q: %w", line, f[2], err)
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	return out, sc.Err()
}
