package identity

import (
	"strings"
	"testing"
)

func TestCheckIDNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"valid_digit_check", "11010519491231002X", true},
		{"valid_numeric_check", "330421199001011248", true},
		{"wrong_check_digit", "330421199001011247", false},
		{"lower_case_x", "11010519491231002x", false},
		{"too_short", "33042119900101123", false},
		{"too_long", "3304211990010112488", false},
		{"letters", "33042119900101A237", false},
		{"bad_month", "330421199013011234", false},
		{"full_width_digits", "３３０４２１199001011237", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := CheckIDNumber(tc.id)
			if (got == "") != tc.ok {
				t.Errorf("CheckIDNumber(%q) = %q, want ok=%v", tc.id, got, tc.ok)
			}
		})
	}
}

func TestCheckPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		phone string
		ok    bool
	}{
		{"13812345678", true},
		{"19912345678", true},
		{"0573-84012345", true},
		{"057384012345", true},
		{"12812345678", false},
		{"1381234567", false},
		{"138-1234-5678", false},
		{"+8613812345678", false},
		{"", false},
		{"0573", false},
	}
	for _, tc := range tests {
		if got := CheckPhone(tc.phone); (got == "") != tc.ok {
			t.Errorf("CheckPhone(%q) = %q, want ok=%v", tc.phone, got, tc.ok)
		}
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	if got, want := MaskIDNumber("330421199001011248"), "3304**********1248"; got != want {
		t.Errorf("MaskIDNumber = %q, want %q", got, want)
	}
	if got, want := MaskPhone("13812345678"), "138****5678"; got != want {
		t.Errorf("MaskPhone = %q, want %q", got, want)
	}
	if got, want := MaskName("张三丰"), "张**"; got != want {
		t.Errorf("MaskName = %q, want %q", got, want)
	}
	if got, want := MaskName("李"), "李*"; got != want {
		t.Errorf("MaskName = %q, want %q", got, want)
	}
}

// FuzzCheckIDNumber: the validator never panics, accepts only 18 ASCII
// characters whose check digit it recomputes, and masking never leaks the
// middle of an accepted number.
func FuzzCheckIDNumber(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "330421199001011248", "", "x", "３３０４"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if CheckIDNumber(id) != "" {
			return
		}
		if len(id) != 18 {
			t.Fatalf("accepted %q of length %d", id, len(id))
		}
		sum := 0
		for i := 0; i < 17; i++ {
			sum += int(id[i]-'0') * idWeights[i]
		}
		if idCheck[sum%11] != id[17] {
			t.Fatalf("accepted %q with a wrong check digit", id)
		}
		if m := MaskIDNumber(id); strings.Contains(m, id[4:14]) {
			t.Fatalf("mask %q leaks the middle of %q", m, id)
		}
	})
}

// FuzzCheckPhone: accepted numbers are digits (one hyphen allowed) and their
// mask hides all but 7 digits.
func FuzzCheckPhone(f *testing.F) {
	for _, s := range []string{"13812345678", "0573-84012345", "", "-", "1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if CheckPhone(p) != "" {
			return
		}
		if strings.Count(p, "-") > 1 || len(p) < 10 {
			t.Fatalf("accepted %q", p)
		}
		if m := MaskPhone(p); strings.Count(m, "*") != len(p)-7 {
			t.Fatalf("mask %q of %q", m, p)
		}
	})
}
