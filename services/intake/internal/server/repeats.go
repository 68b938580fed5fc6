package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/types/known/timestamppb"

	assignmentv1 "github.com/tongban/tongban/proto/tongban/assignment/v1"
	eventsv1 "github.com/tongban/tongban/proto/tongban/events/v1"
	intakev1 "github.com/tongban/tongban/proto/tongban/intake/v1"
	"github.com/tongban/tongban/services/county/directory"
	"github.com/tongban/tongban/services/county/names"
	"github.com/tongban/tongban/services/county/policy"
	"github.com/tongban/tongban/services/intake/internal/identity"
	"github.com/tongban/tongban/services/intake/internal/store"
	"github.com/tongban/tongban/services/platform/audit"
	"github.com/tongban/tongban/services/platform/auth"
	"github.com/tongban/tongban/services/platform/fault"
	"github.com/tongban/tongban/services/platform/idempotency"
	"github.com/tongban/tongban/services/platform/outbox"
	"github.com/tongban/tongban/services/platform/pagination"
	"github.com/tongban/tongban/services/platform/pgdb"
	"google.golang.org/protobuf/proto"
)

// LinkRepeat links a case by hand as a repeat of an earlier one.
func (s *Server) LinkRepeat(ctx context.Context, req *intakev1.LinkRepeatRequest) (*intakev1.LinkRepeatResponse, error) {
	var v fault.Violations
	target, ok := names.CaseNumber(req.GetRepeatOf())
	if !ok {
		v.Add("repeat_of", names.CaseNumberHint)
	}
	c, err := s.changeRepeat(ctx, &v, "LinkRepeat", req, req.GetName(), req.GetRequestId(),
		func(tx pgx.Tx, caller auth.Caller, c *store.Case) (string, error) {
			earlier, err := s.lockVisible(ctx, tx, caller, target, "repeat_of", req.GetRepeatOf(), false)
			if err != nil {
				return "", err
			}
			root := earlier.Number
			if earlier.RepeatOf != "" {
				root = earlier.RepeatOf
			}
			if root == c.Number {
				return "", fault.New(fault.FailedPrecondition, "REPEAT_CYCLE",
					"that case already repeats this one; link the other way round", "repeat_of", req.GetRepeatOf())
			}
			return root, nil
		})
	if err != nil {
		return nil, err
	}
	return &intakev1.LinkRepeatResponse{Case: c}, nil
}

// UnlinkRepeat removes a case's repeat link.
func (s *Server) UnlinkRepeat(ctx context.Context, req *intakev1.UnlinkRepeatRequest) (*intakev1.UnlinkRepeatResponse, error) {
	var v fault.Violations
	c, err := s.changeRepeat(ctx, &v, "UnlinkRepeat", req, req.GetName(), req.GetRequestId(),
		func(pgx.Tx, auth.Caller, *store.Case) (string, error) { return "", nil })
	if err != nil {
		return nil, err
	}
	return &intakev1.UnlinkRepeatResponse{Case: c}, nil
}

// changeRepeat runs a repeat-link change: validation, then in one
// transaction the idempotency check, the case locked, visibility, the
// caller's right to change it, the new root from pick, and the event.
func (s *Server) changeRepeat(ctx context.Context, v *fault.Violations, method string, req proto.Message, name, requestID string,
	pick func(tx pgx.Tx, caller auth.Caller, c *store.Case) (string, error),
) (*intakev1.Case, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	num, ok := names.CaseNumber(name)
	if !ok {
		v.Add("name", names.CaseNumberHint)
	}
	rid := idempotency.Checked(ctx, requestID, v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	receipt := &intakev1.Case{}
	key := idempotency.Key{Scope: caller.Office.ID, Method: method, RequestID: rid}
	err = pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		_, err := idempotency.Do(ctx, tx, key, req, receipt, func() error {
			c, err := s.lockVisible(ctx, tx, caller, num, "name", name, false)
			if err != nil {
				return err
			}
			if caller.Office.ID != c.RegisteredBy && caller.Office.Kind != directory.Bureau {
				return fault.New(fault.PermissionDenied, "NOT_REGISTERING_OFFICE",
					"only the registering office or the county petition bureau may change a repeat link")
			}
			root, err := pick(tx, caller, c)
			if err != nil {
				return err
			}
			receipt.Name, receipt.CaseNumber = names.Case(num), num
			if root == c.RepeatOf {
				return nil // nothing changes, nothing to tell
			}
			if err := s.Store.SetRepeat(ctx, tx, num, root); err != nil {
				return err
			}
			act, detail := audit.LinkRepeat, "repeat_of="+root
			if root == "" {
				act, detail = audit.UnlinkRepeat, "was_repeat_of="+c.RepeatOf
			}
			if err := audit.Append(ctx, tx, audit.FromCall(ctx, act, num, rid, detail)); err != nil {
				return err
			}
			return outbox.Append(ctx, tx, &eventsv1.Event{
				CaseNumber: num,
				Payload: &eventsv1.Event_CaseRepeatChanged{CaseRepeatChanged: &eventsv1.CaseRepeatChanged{
					RepeatOf: caseName(root), ActorOffice: names.Office(caller.Office.ID),
				}},
			})
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.reread(ctx, caller, num)
}

type repeatCandidate struct {
	number, root, township, topic string
	class                         int16
	received                      time.Time
	idHash, phoneHash             string
	// found is the database's row (its visibility, its root's); nil for a
	// case of the batch.
	found *store.Candidate
}

// repeatLookup sets RepeatOf on each of its cases (重复信访): the first case
// of the matter of the earliest earlier case of the same county, township
// and class (and topic, when the new case has one), received within
// RepeatWindow, with a petitioner sharing an ID number or phone (compared by
// keyed hash). Candidates are the database's and the cases before it (in
// its batch, or in an import), so an import links exactly as registrations
// one by one would. It is the only definition of a repeat: registrations
// and imports both use it, in two steps: queue the database's part of the
// look-up on a batch (a registration's travels with its other statements),
// then, once the batch was sent, link.
type repeatLookup struct {
	s     *Server
	cases []*store.Case
	// hashes are each petitioner's keyed hashes: [case][petitioner]{id, phone}.
	hashes                [][][2][]byte
	idHashes, phoneHashes [][]byte
	oldest                time.Time
	found                 []store.Candidate
}

func (s *Server) newRepeatLookup(cases []*store.Case) *repeatLookup {
	r := &repeatLookup{s: s, cases: cases, hashes: make([][][2][]byte, len(cases)), oldest: time.Now()}
	for i, c := range cases {
		for _, p := range c.Petitioners {
			h := [2][]byte{s.Store.Keys.Hash("id_number", p.IDNumber), s.Store.Keys.Hash("phone", p.Phone)}
			r.hashes[i] = append(r.hashes[i], h)
			if h[0] != nil {
				r.idHashes = append(r.idHashes, h[0])
			}
			if h[1] != nil {
				r.phoneHashes = append(r.phoneHashes, h[1])
			}
		}
		if c.ReceiveTime.Before(r.oldest) {
			r.oldest = c.ReceiveTime
		}
	}
	return r
}

// queue queues the look-up of earlier cases sharing a petitioner's hash
// (nothing when no petitioner has an ID number or phone).
func (r *repeatLookup) queue(b *pgx.Batch) {
	if len(r.idHashes)+len(r.phoneHashes) > 0 {
		store.QueueRepeatCandidates(b, r.cases[0].County, r.idHashes, r.phoneHashes, r.oldest.Add(-r.s.RepeatWindow), &r.found)
	}
}

// send runs the look-up on its own (outside a transaction).
func (r *repeatLookup) send(ctx context.Context, db interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}) error {
	b := &pgx.Batch{}
	r.queue(b)
	if b.Len() == 0 {
		return nil
	}
	return db.SendBatch(ctx, b).Close()
}

// link sets RepeatOf from what the look-up found; the cases' numbers must
// be drawn by then.
func (r *repeatLookup) link() {
	r.linkInto(newRepeatPool(r.s.RepeatWindow))
}

// linkInto links the cases against p, which holds the earlier cases, after
// adding what the look-up found to it; each case joins p as it is linked.
func (r *repeatLookup) linkInto(p *repeatPool) {
	p.addFound(r.found)
	for i, c := range r.cases {
		p.link(c, r.hashes[i])
	}
}

// repeatPool is what a new case is compared with: the petitioners of
// earlier cases (found in the database, or before it in a batch or an
// import), indexed by keyed hash ("i" ID number, "p" phone), since an
// import links 10,000 rows, each against every row before it.
type repeatPool struct {
	window time.Duration
	pool   []repeatCandidate
	byHash map[string][]int
}

func newRepeatPool(window time.Duration) *repeatPool {
	return &repeatPool{window: window, byHash: map[string][]int{}}
}

// addFound adds the earlier cases a look-up found in the database.
func (p *repeatPool) addFound(found []store.Candidate) {
	for i := range found {
		f := &found[i]
		p.add(repeatCandidate{number: f.Number, root: f.Root, township: f.Township, topic: f.Topic,
			class: f.Class, received: f.ReceiveTime, idHash: string(f.IDHash), phoneHash: string(f.PhoneHash), found: f})
	}
}

func (p *repeatPool) add(k repeatCandidate) {
	p.pool = append(p.pool, k)
	if k.idHash != "" {
		p.byHash["i"+k.idHash] = append(p.byHash["i"+k.idHash], len(p.pool)-1)
	}
	if k.phoneHash != "" {
		p.byHash["p"+k.phoneHash] = append(p.byHash["p"+k.phoneHash], len(p.pool)-1)
	}
}

// sameMatter reports whether an earlier case is of the same matter as a new
// one (township, class, and topic when the new one names it).
func sameMatter(township string, class int16, topic string, earlierTownship string, earlierClass int16, earlierTopic string) bool {
	return earlierTownship == township && earlierClass == class && (topic == "" || earlierTopic == topic)
}

// link sets c.RepeatOf (see repeatLookup) from the pool, then adds c, whose
// petitioners have hashes, so that later cases see it as registrations one
// by one would. It returns the earlier case c was linked through, nil for
// none.
func (p *repeatPool) link(c *store.Case, hashes [][2][]byte) *repeatCandidate {
	since := c.ReceiveTime.Add(-p.window)
	best := -1
	for _, h := range hashes {
		for _, key := range [2]string{"i" + string(h[0]), "p" + string(h[1])} {
			if len(key) == 1 {
				continue // no such hash
			}
			for _, j := range p.byHash[key] {
				k := &p.pool[j]
				if !sameMatter(c.Township, c.Class, c.Topic, k.township, k.class, k.topic) ||
					k.received.Before(since) || k.number == c.Number {
					continue
				}
				if b := &p.pool[max(best, 0)]; best < 0 || k.received.Before(b.received) || (k.received.Equal(b.received) && k.number < b.number) {
					best = j
				}
			}
		}
	}
	var through *repeatCandidate
	if best >= 0 {
		k := p.pool[best] // a copy: adding below may move the pool
		through = &k
		c.RepeatOf = k.root
		if k.found != nil {
			c.RepeatRoot = &k.found.RootOf
		}
	}
	root := c.RepeatOf
	if root == "" {
		root = c.Number
	}
	for _, h := range hashes {
		p.add(repeatCandidate{number: c.Number, root: root, township: c.Township, topic: c.Topic,
			class: c.Class, received: c.ReceiveTime, idHash: string(h[0]), phoneHash: string(h[1])})
	}
	return through
}

// FindRepeats finds a petitioner's earlier cases that the caller may see
// with their identity in clear (policy.SeesIdentity): a question about an
// identity is answered only from cases that would show it anyway, so an
// office that sees a petitioner masked, or an accusation's accuser not at
// all, cannot complete or confirm them by guessing. Its pages are read a
// page at a time, whatever the history; the first also says which case
// registering now would be linked to, by registration's own look-up
// (repeatLookup), so the counter's warning and the link never disagree.
// People only, at most lookupRate a minute per account (or office, for a
// demo token); each lookup is audited.
func (s *Server) FindRepeats(ctx context.Context, req *intakev1.FindRepeatsRequest) (*intakev1.FindRepeatsResponse, error) {
	caller, err := policy.Require(ctx, policy.LookupIdentity)
	if err != nil {
		return nil, err
	}
	if !s.lookups.allow(caller) {
		return nil, fault.New(fault.ResourceExhausted, "LOOKUP_RATE",
			fmt.Sprintf("at most %d identity lookups a minute per account: wait a minute", lookupRate))
	}
	var v fault.Violations
	id, phone := strings.TrimSpace(req.GetIdNumber()), strings.TrimSpace(req.GetPhone())
	switch {
	case id == "" && phone == "":
		v.Add("id_number", "give the resident ID number or the phone number to look for")
	case id != "":
		if msg := identity.CheckIDNumber(id); msg != "" {
			v.Add("id_number", msg)
		}
	}
	if phone != "" {
		if msg := identity.CheckPhone(phone); msg != "" {
			v.Add("phone", msg)
		}
	}
	if _, ok := intakev1.CaseClass_name[int32(req.GetCaseClass())]; !ok {
		v.Add("case_class", "is not a class of petition")
	}
	size, err := pagination.Size(req.GetPageSize(), 10, 50)
	if err != nil {
		v.Add("page_size", err.Error())
	}
	// The token is bound to the lookup and to the office it answers.
	scope := strings.Join([]string{"FindRepeats", caller.Office.ID, id, phone, req.GetTownship(),
		req.GetCaseClass().String(), req.GetTopic()}, "\x00")
	after, more, err := pagination.ParseKeyset(req.GetPageToken(), scope)
	if err != nil {
		v.Add("page_token", "is not a token from a previous call of this lookup")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now(ctx)
	since := now.Add(-s.RepeatWindow)
	out := &intakev1.FindRepeatsResponse{}
	if !more {
		if out.RepeatOf, err = s.wouldRepeat(ctx, caller, req, id, phone, now); err != nil {
			return nil, err
		}
	}
	var from *pagination.Keyset
	if more {
		from = &after
	}
	found, err := s.Store.RepeatPage(ctx, caller.County, policy.IdentityOffice(caller),
		s.Store.Keys.Hash("id_number", id), s.Store.Keys.Hash("phone", phone), since, from, size+1)
	if err != nil {
		return nil, err
	}
	if len(found) > size {
		found = found[:size]
		last := found[size-1]
		out.NextPageToken = pagination.KeysetToken(pagination.Keyset{Time: last.ReceiveTime, Key: last.Number}, scope)
	}
	for _, f := range found {
		if !policy.CanSeeCase(caller, f.County, f.Involved) || !policy.SeesIdentity(caller, f.RegisteredBy) {
			continue // the page's SQL selects by the same rule; asked again as every read does
		}
		out.Matches = append(out.Matches, &intakev1.RepeatMatch{
			Case: names.Case(f.Number), Subject: f.Subject, State: assignmentv1.CaseState(f.State),
			ReceiveTime: timestamppb.New(f.ReceiveTime),
			SameMatter:  sameMatter(req.GetTownship(), int16(req.GetCaseClass()), req.GetTopic(), f.Township, f.Class, f.Topic),
			Final:       f.State == int16(assignmentv1.CaseState_CASE_STATE_FINAL),
		})
	}
	detail := fmt.Sprintf("by=%s matches=%d", lookupBy(id, phone), len(out.Matches))
	if more {
		detail += " page=next"
	}
	// Audited before anything is answered: no audit, no answer.
	if err := pgdb.InTx(ctx, s.Store.Pool, func(tx pgx.Tx) error {
		return audit.Append(ctx, tx, audit.FromCall(ctx, audit.LookupIdentity, "", "", detail))
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// wouldRepeat runs registration's repeat look-up for a petition of req's
// matter and petitioner received now, and names the case it would be
// linked to, if the caller sees the match it is linked through with its
// identity and may see that first case; "" otherwise.
func (s *Server) wouldRepeat(ctx context.Context, caller auth.Caller, req *intakev1.FindRepeatsRequest, id, phone string, now time.Time) (string, error) {
	if req.GetTownship() == "" || req.GetCaseClass() == intakev1.CaseClass_CASE_CLASS_UNSPECIFIED {
		return "", nil // no matter to compare with
	}
	c := &store.Case{County: caller.County, Township: req.GetTownship(), Class: int16(req.GetCaseClass()),
		Topic: req.GetTopic(), ReceiveTime: now, Petitioners: []store.Petitioner{{IDNumber: id, Phone: phone}}}
	r := s.newRepeatLookup([]*store.Case{c})
	if err := r.send(ctx, s.Store.Pool); err != nil {
		return "", err
	}
	p := newRepeatPool(s.RepeatWindow)
	p.addFound(r.found)
	k := p.link(c, r.hashes[0])
	if k == nil || k.found == nil {
		return "", nil
	}
	f := k.found
	if !policy.CanSeeCase(caller, caller.County, f.Involved) || !policy.SeesIdentity(caller, f.RegisteredBy) ||
		!policy.CanSeeCase(caller, caller.County, f.RootOf.Involved) {
		return "", nil
	}
	return names.Case(c.RepeatOf), nil
}

// lookupBy names what a lookup used, never its value.
func lookupBy(id, phone string) string {
	switch {
	case id != "" && phone != "":
		return "id_number,phone"
	case id != "":
		return "id_number"
	}
	return "phone"
}

// lookupRate is how many identity lookups an account may make a minute: a
// clerk at the counter makes one per petitioner; a script enumerating ID
// numbers would need hundreds.
const lookupRate = 30

// lookupLimiter bounds identity lookups per account (per office for a demo
// token), in this process: with n replicas an account gets at most n times
// the rate, still far from what enumeration needs.
type lookupLimiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func (l *lookupLimiter) allow(c auth.Caller) bool {
	key := c.Office.ID + "/" + c.Account
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil || len(l.buckets) > 10_000 {
		l.buckets = map[string]*rate.Limiter{} // bounded memory; a reset only forgives
	}
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Every(time.Minute/lookupRate), lookupRate/3)
		l.buckets[key] = b
	}
	return b.Allow()
}
