// Package directory holds the county's offices (the bureau, the townships
// with their official division codes, the departments) and, for the demo,
// the static tokens that identify callers. Every process starts from the
// same file; assignment keeps the offices in its database, where the
// bureau's administrators change them through tongban.directory.v1, and
// every other service and the gateway follow its revisions (Follow), so a
// Directory's offices change while it is in use: read them through its
// methods, which are safe for concurrent use.
package directory

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
)

//go:embed jiashan.json
var demo []byte

// Kind is the kind of an office.
type Kind string

// The kinds of office.
const (
	Bureau     Kind = "bureau"     // 县信访局
	Township   Kind = "township"   // 乡镇 / 街道
	Department Kind = "department" // 县直部门
	// Prefecture is the petition bureau of the prefecture-level city above
	// the county (市信访局): the next higher organ for review (复查) of what
	// the county answered, and for re-review (复核) of the county's review.
	Prefecture Kind = "prefecture"
)

// Duties an office may carry beyond its kind, which routing rules ask for.
const (
	// DutyDiscipline: the discipline inspection and supervision organ
	// (纪委监委), which takes accusations (检举控告, 信访工作条例 第二十二条第二款).
	DutyDiscipline = "discipline"
	// DutyPoliticsLaw: a 政法 organ (court, procuratorate, police, justice
	// bureau), which takes 涉法涉诉 matters (第二十二条第二款, 第二十八条第二款).
	DutyPoliticsLaw = "politics-law"
)

// County is the county the directory describes.
type County struct {
	Code       string `json:"code"`
	Name       string `json:"name"`
	Province   string `json:"province"`
	Prefecture string `json:"prefecture"`
	RuleSet    string `json:"rule_set"`
}

// Office is one office of the county.
type Office struct {
	ID   string `json:"id"` // a township's 9-digit division code, or "{county}.{abbr}"
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Duties are what routing rules ask of an office (DutyDiscipline, …).
	Duties []string `json:"duties,omitempty"`
	// Closed offices take no new cases and no new accounts.
	Closed bool `json:"closed,omitempty"`
}

// Has reports whether the office carries duty.
func (o Office) Has(duty string) bool { return slices.Contains(o.Duties, duty) }

// Resource is the office's resource name, "offices/{id}".
func (o Office) Resource() string { return "offices/" + o.ID }

// Token maps a bearer token to an office and a role.
type Token struct {
	Token  string `json:"token"`
	Office string `json:"office"`
	Role   string `json:"role"`
}

// Directory is the county, its offices and the demo tokens.
type Directory struct {
	County County
	Tokens []Token

	mu       sync.RWMutex
	offices  []Office
	byID     map[string]Office
	revision int64
}

// file is the directory file's layout.
type file struct {
	County  County   `json:"county"`
	Offices []Office `json:"offices"`
	Tokens  []Token  `json:"tokens"`
}

// Demo returns the built-in directory of 嘉善县 (330421).
func Demo() *Directory {
	d, err := parse(demo)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return d
}

// Load reads a directory file; the empty path means [Demo].
func Load(path string) (*Directory, error) {
	if path == "" {
		return Demo(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	return parse(b)
}

func parse(b []byte) (*Directory, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse directory: %w", err)
	}
	d := &Directory{County: f.County, Tokens: f.Tokens}
	if err := d.Replace(f.Offices, 0); err != nil {
		return nil, err
	}
	for _, t := range d.Tokens {
		if _, ok := d.byID[t.Office]; !ok {
			return nil, fmt.Errorf("directory: token for unknown office %q", t.Office)
		}
	}
	return d, nil
}

// Check says what is wrong with offices as a county's whole directory:
// ids listed twice, unknown kinds, townships without a 9-digit code of the
// county, not exactly one bureau.
func Check(county string, offices []Office) error {
	seen := make(map[string]bool, len(offices))
	bureaus, prefectures := 0, 0
	for _, o := range offices {
		if seen[o.ID] {
			return fmt.Errorf("directory: office %q listed twice", o.ID)
		}
		seen[o.ID] = true
		switch o.Kind {
		case Bureau:
			bureaus++
		case Township:
			if len(o.ID) != 9 || !strings.HasPrefix(o.ID, county) {
				return fmt.Errorf("directory: township %q is not a 9-digit code of county %s", o.ID, county)
			}
		case Prefecture:
			prefectures++
		case Department:
		default:
			return fmt.Errorf("directory: office %q has unknown kind %q", o.ID, o.Kind)
		}
	}
	if bureaus != 1 {
		return fmt.Errorf("directory: want exactly one bureau, have %d", bureaus)
	}
	if prefectures > 1 {
		return fmt.Errorf("directory: want at most one prefecture bureau, have %d", prefectures)
	}
	return nil
}

// Replace makes offices the directory's offices as of revision, unless the
// directory already holds that revision or a later one (revision 0, the
// file's, always applies).
func (d *Directory) Replace(offices []Office, revision int64) error {
	if err := Check(d.County.Code, offices); err != nil {
		return err
	}
	byID := make(map[string]Office, len(offices))
	for _, o := range offices {
		byID[o.ID] = o
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if revision != 0 && revision <= d.revision {
		return nil
	}
	d.offices, d.byID, d.revision = slices.Clone(offices), byID, revision
	return nil
}

// Revision is the revision of the offices held (0: the file's).
func (d *Directory) Revision() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.revision
}

// Offices returns every office, in directory order.
func (d *Directory) Offices() []Office {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return slices.Clone(d.offices)
}

// Office returns the office with the given id.
func (d *Directory) Office(id string) (Office, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	o, ok := d.byID[id]
	return o, ok
}

// OfficeByResource returns the office named "offices/{id}".
func (d *Directory) OfficeByResource(name string) (Office, bool) {
	id, ok := strings.CutPrefix(name, "offices/")
	if !ok {
		return Office{}, false
	}
	return d.Office(id)
}

// Bureau returns the county petition bureau.
func (d *Directory) Bureau() Office {
	for _, o := range d.Offices() {
		if o.Kind == Bureau {
			return o
		}
	}
	panic("directory without bureau") // parse refuses it
}

// Prefecture returns the prefecture's petition bureau above the county, if
// the directory lists it.
func (d *Directory) Prefecture() (Office, bool) {
	for _, o := range d.Offices() {
		if o.Kind == Prefecture {
			return o, true
		}
	}
	return Office{}, false
}

// WithDuty returns the open offices carrying duty, in directory order.
func (d *Directory) WithDuty(duty string) []Office {
	var out []Office
	for _, o := range d.Offices() {
		if o.Has(duty) && !o.Closed {
			out = append(out, o)
		}
	}
	return out
}

// Townships returns the townships in division-code order.
func (d *Directory) Townships() []Office {
	var out []Office
	for _, o := range d.Offices() {
		if o.Kind == Township {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
