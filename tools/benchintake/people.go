package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
)

// person is who a case names: an ID number and a phone.
type person struct{ id, phone string }

// petitioner is p as a case's petitioner.
func (p person) petitioner() *intakev1.Petitioner {
	return &intakev1.Petitioner{DisplayName: "张三", IdNumber: p.id, Phone: p.phone}
}

// population draws the people of a county's registrations as they come:
// most new, some returning (a few often: a Zipf distribution over the
// returning), a share giving a township's hotline as their contact, and
// group visits whose representatives recur. Safe for concurrent use.
type population struct {
	mu        sync.Mutex
	rng       *rand.Rand
	returning []person
	zipf      *rand.Zipf
	hotlines  []string
	reps      []person
}

// The mix, in shares of registrations.
const (
	shareReturning = 0.25 // a petitioner seen before
	shareHotline   = 0.05 // a new petitioner whose contact is a township's hotline
	shareGroup     = 0.03 // a group visit of 8, 3 representatives from a recurring 30
)

func newPopulation(seed uint64) *population {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := &population{rng: rng}
	for range 5000 {
		p.returning = append(p.returning, p.fresh())
	}
	// s = 1.1: the most frequent returner comes back about a tenth of the
	// returning visits, a long tail once or twice.
	p.zipf = rand.NewZipf(rng, 1.1, 1, uint64(len(p.returning)-1))
	for i := range 9 {
		p.hotlines = append(p.hotlines, fmt.Sprintf("0573-8401%04d", 1000+i))
	}
	for range 30 {
		p.reps = append(p.reps, p.fresh())
	}
	return p
}

// newPerson is a person never seen before.
func (p *population) newPerson() person {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fresh()
}

// fresh is newPerson for a caller that holds p.mu (or owns p).
func (p *population) fresh() person {
	return person{id: idNumber(p.rng), phone: "13" + fmt.Sprintf("%09d", p.rng.IntN(1_000_000_000))}
}

// petitioners are the people of the next case and its head count.
func (p *population) petitioners() ([]*intakev1.Petitioner, int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rng.Float64()
	switch {
	case r < shareGroup:
		var out []*intakev1.Petitioner
		for _, i := range p.rng.Perm(len(p.reps))[:3] {
			rep := p.reps[i].petitioner()
			rep.DisplayName, rep.Representative = "代表", true
			out = append(out, rep)
		}
		return out, 8
	case r < shareGroup+shareHotline:
		who := p.fresh()
		who.phone = p.hotlines[p.rng.IntN(len(p.hotlines))]
		return []*intakev1.Petitioner{who.petitioner()}, 1
	case r < shareGroup+shareHotline+shareReturning:
		return []*intakev1.Petitioner{p.returning[p.zipf.Uint64()].petitioner()}, 1
	}
	return []*intakev1.Petitioner{p.fresh().petitioner()}, 1
}

// caseOf is a visit of the people given, with about 2 kB of Chinese text.
func caseOf(people []*intakev1.Petitioner, headCount int32) *intakev1.Case {
	townships := []string{"330421001", "330421002", "330421003", "330421102", "330421103", "330421105", "330421107", "330421111", "330421112"}
	c := &intakev1.Case{
		Channel:     intakev1.Channel_CHANNEL_VISIT,
		Township:    townships[rand.IntN(len(townships))],
		CaseClass:   intakev1.CaseClass_CASE_CLASS_CLAIM,
		Topic:       "城乡建设/排水",
		Subject:     "小区雨污管网破损，雨天污水外溢",
		Content:     strings.Repeat("本人反映小区雨污管网破损已三个月，雨天污水外溢影响出行与卫生，多次向物业反映未果，请求尽快协调维修。", 14),
		Petitioners: people,
	}
	if headCount > 1 {
		c.HeadCount = headCount
	}
	return c
}

// idNumber is a valid random resident ID number of the county (GB 11643).
func idNumber(rng *rand.Rand) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	base := fmt.Sprintf("330421%04d%02d%02d%03d", 1950+rng.IntN(60), 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(1000))
	sum := 0
	for i := range 17 {
		sum += int(base[i]-'0') * weights[i]
	}
	return base + string("10X98765432"[sum%11])
}

// people is the benchmark's population.
var people = newPopulation(uint64(time.Now().UnixNano()))

// realisticCase is the next case of the population's mix.
func realisticCase() *intakev1.Case { return caseOf(people.petitioners()) }

// freshCase is a case of a petitioner never seen before.
func freshCase() *intakev1.Case {
	return caseOf([]*intakev1.Petitioner{people.newPerson().petitioner()}, 1)
}
