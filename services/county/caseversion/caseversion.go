// Package caseversion is a case's one version across the two services that
// change it: intake corrects the registration, assignment moves the case.
// Each owns and checks its own counter; the etag carries both, so the etag a
// client reads from any route that returns the case is the one it sends
// back to any route that changes it (AIP-154).
//
// A service knows the other's counter from its feed, which may lag by a
// moment: it never checks that part, only its own, and a response echoes
// the newer of what it knows and what the client sent, so a client that
// just made a change is not told its own change is someone else's.
package caseversion

import (
	"strconv"
	"strings"

	"github.com/tongban/tongban/services/platform/fault"
)

// Version is a case's version.
type Version struct {
	// Registration counts the registration's corrections (intake): 1 as
	// registered.
	Registration int64
	// Moves is the sequence of the case's last move (assignment): 1 after
	// REGISTER, the first move every case has.
	Moves int64
}

// Registered is every case's version once registered: the registration and
// its REGISTER move.
var Registered = Version{Registration: 1, Moves: 1}

// Part names the counter a service owns and checks.
type Part int

const (
	// Registration is intake's part.
	Registration Part = iota
	// Moves is assignment's part.
	Moves
)

// Etag is the version as the API shows it: a strong entity tag, `"3.8"`.
func (v Version) Etag() string {
	return `"` + strconv.FormatInt(v.Registration, 10) + "." + strconv.FormatInt(v.Moves, 10) + `"`
}

// Parse reads an etag as Etag writes it, with or without its quotes.
func Parse(etag string) (Version, bool) {
	s := strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`)
	r, m, ok := strings.Cut(s, ".")
	if !ok {
		return Version{}, false
	}
	reg, err1 := strconv.ParseInt(r, 10, 64)
	mov, err2 := strconv.ParseInt(m, 10, 64)
	if err1 != nil || err2 != nil || reg < 1 || mov < 1 || r != strconv.FormatInt(reg, 10) || m != strconv.FormatInt(mov, 10) {
		return Version{}, false
	}
	return Version{Registration: reg, Moves: mov}, true
}

// Max is v with each counter raised to o's.
func (v Version) Max(o Version) Version {
	return Version{Registration: max(v.Registration, o.Registration), Moves: max(v.Moves, o.Moves)}
}

// Echo is the version a response shows: v, raised to what the client sent
// (sent, "" for nothing) where the client has seen more than this service
// has heard of yet.
func (v Version) Echo(sent string) Version {
	if s, ok := Parse(sent); ok {
		return v.Max(s)
	}
	return v
}

// Check refuses a write whose etag (sent; "" for none) names another
// version of the owner's part than current: ABORTED, with the current etag
// in the error's metadata. An etag that is not one of ours is stale too.
func Check(sent string, current Version, owner Part) error {
	if sent == "" {
		return nil
	}
	s, ok := Parse(sent)
	if ok && (owner == Registration && s.Registration == current.Registration ||
		owner == Moves && s.Moves == current.Moves) {
		return nil
	}
	return fault.New(fault.Aborted, "ETAG_MISMATCH", "the case changed since you read it: reload it and try again", "etag", current.Etag())
}
