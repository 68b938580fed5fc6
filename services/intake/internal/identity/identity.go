// Package identity validates and masks petitioner identity: mainland
// resident ID numbers (GB 11643-1999, with its ISO 7064 MOD 11-2 check
// digit) and phone numbers.
package identity

import (
	"strings"
	"unicode/utf8"
)

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheck = "10X98765432"

// CheckIDNumber returns "" when id is a well-formed 18-character resident
// ID number, or a description of what is wrong. A lower-case x is refused
// so that stored numbers have one spelling.
func CheckIDNumber(id string) string {
	if utf8.RuneCountInString(id) != 18 || len(id) != 18 {
		return "must be 18 characters (a mainland resident ID number)"
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return "the first 17 characters must be digits"
		}
		sum += int(c-'0') * idWeights[i]
	}
	want := idCheck[sum%11]
	if id[17] != want {
		if id[17] == 'x' && want == 'X' {
			return "the check character must be an upper-case X"
		}
		return "check digit does not match (GB 11643): please re-check the number"
	}
	month := (id[10]-'0')*10 + id[11] - '0'
	day := (id[12]-'0')*10 + id[13] - '0'
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return "the birth date inside the number is not a date"
	}
	return ""
}

// CheckPhone returns "" for a mainland mobile number (11 digits starting
// with 1) or a landline with area code (0 + 9–11 digits, one optional
// hyphen after the area code), otherwise a description.
func CheckPhone(p string) string {
	digits := strings.Replace(p, "-", "", 1)
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "must contain only digits (and one hyphen after a landline's area code)"
		}
	}
	switch {
	case len(digits) == 11 && digits[0] == '1' && p == digits:
		if digits[1] < '3' {
			return "not a mainland mobile number (the second digit must be 3–9)"
		}
		return ""
	case digits != "" && digits[0] == '0' && len(digits) >= 10 && len(digits) <= 12:
		return ""
	}
	return "must be an 11-digit mobile number or a landline with its area code, e.g. 0573-84012345"
}

// MaskIDNumber keeps the first 4 and last 4 characters:
// "3304**********1234".
func MaskIDNumber(id string) string {
	if len(id) <= 8 {
		return strings.Repeat("*", len(id))
	}
	return id[:4] + strings.Repeat("*", len(id)-8) + id[len(id)-4:]
}

// MaskPhone keeps the first 3 and last 4 digits: "138****5678".
func MaskPhone(p string) string {
	if len(p) <= 7 {
		return strings.Repeat("*", len(p))
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

// MaskName keeps the family name (the first character): "张**".
func MaskName(name string) string {
	n := utf8.RuneCountInString(name)
	if n == 0 {
		return ""
	}
	r, _ := utf8.DecodeRuneInString(name)
	return string(r) + strings.Repeat("*", max(n-1, 1))
}
