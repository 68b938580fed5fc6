package directory

import "testing"

// TestDemo pins the demo county to the official division codes
// (shared/regulation.md §7: 嘉善县 330421, 3 街道 and 6 镇).
func TestDemo(t *testing.T) {
	t.Parallel()
	d := Demo()
	if d.County.Code != "330421" || d.County.Name != "嘉善县" {
		t.Fatalf("county = %+v", d.County)
	}
	want := map[string]string{
		"330421001": "魏塘街道", "330421002": "罗星街道", "330421003": "惠民街道",
		"330421102": "大云镇", "330421103": "西塘镇", "330421105": "干窑镇",
		"330421107": "陶庄镇", "330421111": "姚庄镇", "330421112": "天凝镇",
	}
	ts := d.Townships()
	if len(ts) != len(want) {
		t.Fatalf("%d townships, want %d", len(ts), len(want))
	}
	for _, o := range ts {
		if want[o.ID] != o.Name {
			t.Errorf("township %s = %q, want %q", o.ID, o.Name, want[o.ID])
		}
	}
	if b := d.Bureau(); b.ID != "330421.xfj" {
		t.Errorf("bureau = %+v", b)
	}
	seen := map[string]bool{}
	for _, tok := range d.Tokens {
		if seen[tok.Token] {
			t.Errorf("token %q listed twice", tok.Token)
		}
		seen[tok.Token] = true
	}
	for _, o := range d.Offices() {
		found := false
		for _, tok := range d.Tokens {
			found = found || tok.Office == o.ID
		}
		if !found {
			t.Errorf("office %s has no demo token", o.ID)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"no_bureau":         `{"county":{"code":"330421"},"offices":[{"id":"330421001","name":"x","kind":"township"}]}`,
		"bad_township_code": `{"county":{"code":"330421"},"offices":[{"id":"330421.xfj","kind":"bureau"},{"id":"3304210","kind":"township"}]}`,
		"unknown_kind":      `{"county":{"code":"330421"},"offices":[{"id":"330421.xfj","kind":"bureau"},{"id":"x","kind":"mystery"}]}`,
		"token_for_nobody":  `{"county":{"code":"330421"},"offices":[{"id":"330421.xfj","kind":"bureau"}],"tokens":[{"token":"t","office":"nope"}]}`,
		"duplicate_office":  `{"county":{"code":"330421"},"offices":[{"id":"330421.xfj","kind":"bureau"},{"id":"330421.xfj","kind":"bureau"}]}`,
	}
	for name, js := range tests {
		if _, err := parse([]byte(js)); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
}

// TestReplace: a newer revision replaces the offices, an older or equal one
// is ignored (a follower's late answer), and a broken directory is refused
// with the offices kept.
func TestReplace(t *testing.T) {
	t.Parallel()
	d := Demo()
	offices := append(d.Offices(), Office{ID: "330421.yjj", Name: "嘉善县应急管理局", Kind: Department})
	if err := d.Replace(offices, 5); err != nil {
		t.Fatal(err)
	}
	if o, ok := d.Office("330421.yjj"); !ok || d.Revision() != 5 || o.Name != "嘉善县应急管理局" {
		t.Fatalf("after revision 5: %+v %v rev %d", o, ok, d.Revision())
	}
	if err := d.Replace(d.Offices()[:len(offices)-1], 4); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Office("330421.yjj"); !ok || d.Revision() != 5 {
		t.Errorf("an older revision replaced the offices (rev %d)", d.Revision())
	}
	closed := d.Offices()
	for i := range closed {
		if closed[i].ID == "330421.jw" {
			closed[i].Closed = true
		}
	}
	if err := d.Replace(closed, 6); err != nil {
		t.Fatal(err)
	}
	if got := d.WithDuty(DutyDiscipline); len(got) != 0 {
		t.Errorf("a closed office still carries its duty for routing: %v", got)
	}
	twoBureaus := append(d.Offices(), Office{ID: "330421.xfj2", Name: "x", Kind: Bureau})
	if err := d.Replace(twoBureaus, 7); err == nil || d.Revision() != 6 {
		t.Errorf("two bureaus: %v (rev %d)", err, d.Revision())
	}
	twoPrefectures := append(d.Offices(), Office{ID: "330499.xfj", Name: "x", Kind: Prefecture})
	if err := d.Replace(twoPrefectures, 7); err == nil {
		t.Error("two prefecture bureaus accepted")
	}
}
