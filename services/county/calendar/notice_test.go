package calendar

import (
	"os"
	"strings"
	"testing"
	"time"
)

const notice2027 = `# typed from the notice
year 2027
source 国办发明电〔2026〕99号 (test)
元旦 2027-01-01
春节 2027-02-06..2027-02-13 workdays 2027-02-14 2027-02-20   # a Sunday and a Saturday
清明节 2027-04-05
`

func TestParseAndMergeNotice(t *testing.T) {
	t.Parallel()
	n, err := ParseNotice(strings.NewReader(notice2027))
	if err != nil {
		t.Fatal(err)
	}
	if n.Year != 2027 || len(n.Holidays["春节"]) != 8 || len(n.Workdays["春节"]) != 2 {
		t.Fatalf("parsed %+v", n)
	}
	data, err := os.ReadFile("holidays.json")
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(data, n, false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parse(merged)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Day(time.Date(2027, 2, 10, 0, 0, 0, 0, time.UTC)); d.Kind != Holiday || d.Provisional {
		t.Errorf("2027-02-10 after the merge: %+v", d)
	}
	if d := c.Day(time.Date(2027, 2, 20, 0, 0, 0, 0, time.UTC)); d.Kind != MakeupWorkday {
		t.Errorf("2027-02-20 after the merge: %+v", d)
	}
	if d := c.Day(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)); d.Kind != Holiday {
		t.Errorf("2026 lost in the merge: %+v", d)
	}
	if c.LastYear() != 2027 {
		t.Errorf("LastYear = %d", c.LastYear())
	}
	if _, err := Merge(merged, n, false); err == nil {
		t.Error("merging 2027 twice was accepted")
	}
	if _, err := Merge(merged, n, true); err != nil {
		t.Errorf("replacing 2027: %v", err)
	}
}

func TestParseNoticeRefuses(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"no year":              "春节 2027-02-06\n",
		"no source":            "year 2027\n春节 2027-02-06\n",
		"date of another year": "year 2027\nsource x\n春节 2028-02-06\n",
		"twice":                "year 2027\nsource x\n春节 2027-02-06\n元宵 2027-02-06\n",
		"weekday make-up day":  "year 2027\nsource x\n春节 2027-02-08 workdays 2027-02-10\n",
		"bad range":            "year 2027\nsource x\n春节 2027-02-13..2027-02-06\n",
		"long range":           "year 2027\nsource x\n春节 2027-02-01..2027-03-01\n",
		"no days off":          "year 2027\nsource x\n春节 workdays 2027-02-14\n",
		"empty":                "# nothing\n",
	} {
		if _, err := ParseNotice(strings.NewReader(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The New Year holiday may begin on 31 December of the year before.
	if _, err := ParseNotice(strings.NewReader("year 2023\nsource x\n元旦 2022-12-31..2023-01-02\n")); err != nil {
		t.Errorf("元旦 from 31 Dec: %v", err)
	}
}

// FuzzParseNotice: any input is refused with an error or gives a notice
// whose dates all load.
func FuzzParseNotice(f *testing.F) {
	f.Add(notice2027)
	f.Add("year 2027\nsource x\n元旦 2026-12-31..2027-01-02\n")
	data, err := os.ReadFile("holidays.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		n, err := ParseNotice(strings.NewReader(text))
		if err != nil {
			return
		}
		if n.Year == 0 || n.Source == "" || len(n.Holidays) == 0 {
			t.Fatalf("accepted an incomplete notice: %+v", n)
		}
		if _, err := Merge(data, n, true); err != nil && !strings.Contains(err.Error(), "listed twice") {
			t.Fatalf("a parsed notice does not merge: %v", err)
		}
	})
}

func TestWithNotices(t *testing.T) {
	t.Parallel()
	n, err := ParseNotice(strings.NewReader(notice2027))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Official().WithNotices([]*Notice{n})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Day(time.Date(2027, 2, 8, 0, 0, 0, 0, time.UTC)); d.Kind != Holiday || d.Provisional {
		t.Errorf("2027-02-08: %+v", d)
	}
	if d := c.Day(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)); d.Provisional {
		t.Errorf("a 2027 weekday is still provisional: %+v", d)
	}
	if d := Official().Day(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)); !d.Provisional {
		t.Error("WithNotices changed the calendar it copied")
	}
	if _, err := c.WithNotices([]*Notice{n}); err == nil {
		t.Error("the same year twice was accepted")
	}
	old, _ := ParseNotice(strings.NewReader("year 2026\nsource x\n元旦 2026-01-01\n"))
	if _, err := Official().WithNotices([]*Notice{old}); err == nil {
		t.Error("a notice rewriting 2026 was accepted")
	}
}
