package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/[pid]/stat's times (100
// on every Linux architecture Go supports).
const clockTicks = 100

// cpuSnapshot is the CPU time (user + system, seconds) of every process on
// the machine, with the time of its exited children (PostgreSQL's
// backends end up in the postmaster's; pgbench in benchintake's), from
// /proc, and the machine's busy time from /proc/stat.
type cpuSnapshot struct {
	procs map[int]procCPU
	busy  float64
}

type procCPU struct {
	name    string
	parent  int
	seconds float64 // own and reaped children's
}

// backendNames names PostgreSQL's backends by the application that opened
// them ("postgres:tongban-intake" for a backend of intake's pool), from
// pg_stat_activity, so the CPU table says whose SQL the database spent
// its time on. Backends gone by then keep the name "postgres".
func backendNames(ctx context.Context, conn *pgx.Conn) map[int]string {
	out := map[int]string{}
	rows, err := conn.Query(ctx, `SELECT pid, application_name FROM pg_stat_activity WHERE application_name <> ''`)
	if err != nil {
		return out
	}
	var pid int32
	var app string
	_, _ = pgx.ForEachRow(rows, []any{&pid, &app}, func() error {
		out[int(pid)] = "postgres:" + app
		return nil
	})
	return out
}

func takeCPU(backends map[int]string) cpuSnapshot {
	out := cpuSnapshot{procs: map[int]procCPU{}}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		// After the name: state, ppid, …; utime, stime, cutime, cstime are
		// stat fields 14 to 17.
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 15 {
			continue
		}
		var sum float64
		for _, f := range fields[11:15] {
			v, _ := strconv.ParseFloat(f, 64)
			sum += v
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		parent, _ := strconv.Atoi(fields[1])
		name := s[open+1 : closing]
		if name == "postgres" {
			if b, ok := backends[pid]; ok {
				name = b
			} else {
				name = postgresProcess(pid)
			}
		}
		out.procs[pid] = procCPU{name: name, parent: parent, seconds: sum / clockTicks}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
		for i, v := range f[1:] {
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			x, _ := strconv.ParseFloat(v, 64)
			out.busy += x / clockTicks
		}
	}
	return out
}

// postgresWorkers are the PostgreSQL processes that are not backends, by
// the start of their process title ("postgres: autovacuum worker bench").
var postgresWorkers = []string{"checkpointer", "background writer", "walwriter", "autovacuum worker",
	"autovacuum launcher", "logical replication launcher", "archiver", "stats collector"}

// postgresProcess names a PostgreSQL process that is not a named backend:
// "postgres:checkpointer" and the like for the server's own workers (whose
// work a run may leave to the next one), "postgres" for the rest (the
// postmaster, which also holds the time of its exited children, and the
// backends without an application name).
func postgresProcess(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "postgres"
	}
	title, ok := strings.CutPrefix(strings.TrimRight(string(b), "\x00 "), "postgres: ")
	if !ok {
		return "postgres"
	}
	for _, w := range postgresWorkers {
		if strings.HasPrefix(title, w) {
			return "postgres:" + w
		}
	}
	return "postgres"
}

// cpuShare is where the CPU went between two snapshots.
type cpuShare struct {
	name    string
	seconds float64
}

// since lists the programs that used CPU since before, most first, keeping
// those above 1 % of the machine's busy time, which it returns as total. A
// process that exited in between counts in its parent's reaped time; its
// time before is taken off there.
func (after cpuSnapshot) since(before cpuSnapshot) (shares []cpuShare, total float64) {
	by := map[string]float64{}
	for pid, p := range after.procs {
		prev := before.procs[pid]
		if prev.name != p.name {
			prev = procCPU{} // a new process, or the pid reused
		}
		by[p.name] += p.seconds - prev.seconds
	}
	for pid, p := range before.procs {
		if _, alive := after.procs[pid]; !alive {
			if parent, ok := after.procs[p.parent]; ok {
				by[parent.name] -= p.seconds
			}
		}
	}
	total = after.busy - before.busy
	for name, sec := range by {
		if sec >= total/100 {
			shares = append(shares, cpuShare{name, sec})
		}
	}
	sort.Slice(shares, func(i, j int) bool { return shares[i].seconds > shares[j].seconds })
	return shares, total
}

// cpuLine describes the CPU a run used per operation, in milliseconds: the
// machine's, then by program ("machine 8.10, postgres 2.10, intake 0.91,
// …"; kernel threads such as kworker are the kernel's I/O and network
// work).
func cpuLine(before, after cpuSnapshot, ops int) string {
	if ops == 0 {
		return ""
	}
	shares, total := after.since(before)
	parts := []string{fmt.Sprintf("machine %.2f", total*1000/float64(ops))}
	for _, s := range shares {
		parts = append(parts, fmt.Sprintf("%s %.2f", s.name, s.seconds*1000/float64(ops)))
	}
	return strings.Join(parts, ", ")
}

// peakMemory describes the peak resident memory (VmHWM) of the processes
// named names, in MiB, in that order ("intake 61, gateway 38"): what the
// services' heaps grew to under the benchmark's load, with GOGC and
// GOMEMLIMIT as set.
func peakMemory(names ...string) string {
	peak := map[string]int64{}
	stats, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var name string
		var kb int64
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "Name:"); ok {
				name = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			}
		}
		if slices.Contains(names, name) {
			peak[name] = max(peak[name], kb)
		}
	}
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if kb, ok := peak[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", n, kb/1024))
		}
	}
	return strings.Join(parts, ", ")
}

// ioSnapshot is where the cluster's WAL stood and how much the machine's
// disks had written, at one moment.
type ioSnapshot struct {
	wal     int64 // bytes of WAL since the cluster began (pg_current_wal_lsn)
	written int64 // bytes written to the block devices (/sys/block/*/stat)
}

// takeIO reads the WAL position over conn and the disks' written sectors.
func takeIO(ctx context.Context, conn *pgx.Conn) ioSnapshot {
	var s ioSnapshot
	_ = conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&s.wal)
	stats, _ := filepath.Glob("/sys/block/*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 6 {
			sectors, _ := strconv.ParseInt(f[6], 10, 64)
			s.written += sectors * 512
		}
	}
	return s
}

// ioLine describes the WAL and the disk writes per operation between two
// snapshots: the I/O behind the kernel's writeback workers in the CPU
// table.
func ioLine(before, after ioSnapshot, ops int) string {
	if ops == 0 {
		return ""
	}
	return fmt.Sprintf("WAL %.1f kB, disk writes %.1f kB", float64(after.wal-before.wal)/1024/float64(ops),
		float64(after.written-before.written)/1024/float64(ops))
}
