// Package devkit holds what development, tests, benchmarks and demos need
// and a deployment never runs: a throwaway PostgreSQL (pgcluster, pgtest),
// the whole stack as real processes (stack), a closed-loop load generator
// (loadgen), the demo county's year of cases (demodata), test callers
// (authtest) and the demo clock (democlock, compiled in only with the
// tongbandemo build tag). The commands built from them are under tools/.
package devkit
