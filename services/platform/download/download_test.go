package download

import (
	"mime"
	"testing"
)

func TestDisposition(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"来信扫描.pdf", `attachment; filename="file.pdf"; filename*=UTF-8''%E6%9D%A5%E4%BF%A1%E6%89%AB%E6%8F%8F.pdf`},
		{"report-2026.csv", `attachment; filename="report-2026.csv"; filename*=UTF-8''report-2026.csv`},
		{`a"b\c d.txt`, `attachment; filename="a_b_c d.txt"; filename*=UTF-8''a%22b%5Cc%20d.txt`},
		{"嘉善县 2026-11 月报.xlsx", `attachment; filename="___ 2026-11 __.xlsx"; filename*=UTF-8''%E5%98%89%E5%96%84%E5%8E%BF%202026-11%20%E6%9C%88%E6%8A%A5.xlsx`},
		{"", `attachment; filename="file"; filename*=UTF-8''`},
	} {
		got := Disposition(tc.name)
		if got != tc.want {
			t.Errorf("Disposition(%q) = %s\nwant %s", tc.name, got, tc.want)
		}
		// What a client's parser reads back is the name given.
		if tc.name == "" {
			continue
		}
		disp, params, err := mime.ParseMediaType(got)
		if err != nil || disp != "attachment" || params["filename"] != tc.name {
			t.Errorf("ParseMediaType(%s) = %q %q %v, want attachment %q", got, disp, params, err, tc.name)
		}
	}
}

func FuzzDisposition(f *testing.F) {
	f.Add("来信扫描.pdf")
	f.Add("a\"b\r\n.txt")
	f.Fuzz(func(t *testing.T, name string) {
		got := Disposition(name)
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e {
				t.Fatalf("Disposition(%q) = %q: a byte outside printable ASCII", name, got)
			}
		}
	})
}
