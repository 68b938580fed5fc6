package names

import "testing"

func TestCaseNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"cases/330421-2026-000123", "330421-2026-000123", true},
		{"cases/330421-2026-1234567", "330421-2026-1234567", true},
		{"330421-2026-000123", "", false},
		{"cases/330421-26-000123", "", false},
		{"cases/330421-2026-000123/x", "", false},
		{"cases/", "", false},
	}
	for _, tc := range tests {
		got, ok := CaseNumber(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CaseNumber(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
		if ok && Case(got) != tc.name {
			t.Errorf("Case(%q) = %q, want %q", got, Case(got), tc.name)
		}
	}
}

func FuzzCaseNumber(f *testing.F) {
	f.Add("cases/330421-2026-000123")
	f.Add("cases/")
	f.Fuzz(func(t *testing.T, name string) {
		if n, ok := CaseNumber(name); ok && Case(n) != name {
			t.Fatalf("round trip of %q gave %q", name, Case(n))
		}
	})
}
