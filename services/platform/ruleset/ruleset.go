// Package ruleset holds the rules that differ by jurisdiction, as data: each
// named rule set cites its source. A county chooses its rule set in the
// directory ("rule_set"). The scheduling issue adds the time limits here.
package ruleset

import "fmt"

// RepresentativeLimit is one row of a representatives rule: groups of up to
// UpTo people (0: any size) name at most Max representatives.
type RepresentativeLimit struct {
	UpTo int
	Max  int
}

// RuleSet is one jurisdiction's rules.
type RuleSet struct {
	Name  string
	Title string
	// GroupSize is the head count from which a petition is a group
	// petition (集体访) that must name representatives.
	GroupSize int
	// Representatives, in increasing UpTo, the last with UpTo 0.
	Representatives []RepresentativeLimit
	// RepresentativesSource cites the article.
	RepresentativesSource string
}

// MaxRepresentatives is how many representatives a group of headCount
// people may name.
func (r *RuleSet) MaxRepresentatives(headCount int) int {
	for _, l := range r.Representatives {
		if l.UpTo == 0 || headCount <= l.UpTo {
			return l.Max
		}
	}
	return 0
}

var sets = map[string]*RuleSet{
	"national-2022": {
		Name:                  "national-2022",
		Title:                 "信访工作条例 (2022)",
		GroupSize:             5,
		Representatives:       []RepresentativeLimit{{Max: 5}},
		RepresentativesSource: "信访工作条例 第二十条第三款 (代表人数不超过5人)",
	},
	"zhejiang-2016": {
		Name:                  "zhejiang-2016",
		Title:                 "浙江省信访条例 (2016)",
		GroupSize:             5,
		Representatives:       []RepresentativeLimit{{UpTo: 10, Max: 3}, {Max: 5}},
		RepresentativesSource: "浙江省信访条例 第十五条第二款 (groups of up to 10 people: at most 3 representatives; more than 10: at most 5)",
	},
}

// Get returns the named rule set.
func Get(name string) (*RuleSet, error) {
	r, ok := sets[name]
	if !ok {
		return nil, fmt.Errorf("ruleset: unknown rule set %q (known: national-2022, zhejiang-2016)", name)
	}
	return r, nil
}
