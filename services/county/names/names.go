// Package names parses and formats the resource names of the REST surface:
// "cases/{case_number}", "offices/{office}" and "accounts/{username}".
package names

import (
	"regexp"
	"strings"
)

var caseNumber = regexp.MustCompile(`^[0-9]{6}-[0-9]{4}-[0-9]{6,9}$`)

// Case returns "cases/{number}".
func Case(number string) string { return "cases/" + number }

// CaseNumber returns the case number of a case resource name, or false when
// name is not "cases/{county}-{year}-{sequence}".
func CaseNumber(name string) (string, bool) {
	n, ok := strings.CutPrefix(name, "cases/")
	if !ok || !caseNumber.MatchString(n) {
		return "", false
	}
	return n, true
}

// Office returns "offices/{id}", or "" for the empty id.
func Office(id string) string {
	if id == "" {
		return ""
	}
	return "offices/" + id
}

// OfficeID returns the id of an office resource name.
func OfficeID(name string) (string, bool) {
	id, ok := strings.CutPrefix(name, "offices/")
	return id, ok && id != ""
}

// CaseNumberHint is the sentence used when a case name is malformed.
const CaseNumberHint = `must be "cases/{county}-{year}-{sequence}", e.g. "cases/330421-2026-000123"`

var username = regexp.MustCompile(`^[a-z0-9][a-z0-9.\-]{2,31}$`)

// Username reports whether s is a valid username: 3–32 lower-case letters,
// digits, dots or dashes, starting with a letter or digit.
func Username(s string) bool { return username.MatchString(s) }

// AccountUsername returns the username of "accounts/{username}".
func AccountUsername(name string) (string, bool) {
	u, ok := strings.CutPrefix(name, "accounts/")
	return u, ok && Username(u)
}
