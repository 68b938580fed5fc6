//go:build !tongbandemo

package democlock

const compiled = false
