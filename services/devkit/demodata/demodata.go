// Package demodata generates a realistic year of petitions for the demo
// county (嘉善县) and pushes every one through the running services over
// the REST API, as the offices would: registered at a township or the
// bureau, referred up, routed, signed for, accepted, answered (some late,
// some extended), evaluated, reviewed, closed; the most recent ones still
// open. Every figure on the dashboard is therefore earned by the real
// pipeline.
//
// The moves are backdated with the demo clock (democlock), which the
// services honour only in make run's build, started with the demo clock's
// key, and only on calls that present it (Options.ClockKey). Every call carries an idempotency key derived from the seed and
// the case's index, so a load that is interrupted and run again continues
// where it stopped and never registers a case twice.
package demodata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tongban/tongban/services/county/calendar"
	"github.com/tongban/tongban/services/devkit/democlock"
)

// Options say what to load and where.
type Options struct {
	// Gateway is the REST base URL, e.g. "http://127.0.0.1:8080".
	Gateway string
	// Cases is how many cases to generate.
	Cases int
	// Seed makes the data reproducible; the idempotency keys include it.
	Seed uint64
	// End is the end of the year loaded (default now); cases are received
	// in the twelve months before it.
	End time.Time
	// Workers is how many cases are worked at once (default 8).
	Workers int
	// Progress, when set, hears of every finished case.
	Progress func(done, failed int)
	// HTTP is the client (default a fresh one).
	HTTP *http.Client
	// ClockKey is the demo clock's secret (TONGBAN_DEMO_CLOCK_KEY of the
	// services), sent with every backdated call.
	ClockKey string
}

// Result counts what a load did.
type Result struct {
	Cases, Failed int
	// Calls is the number of API calls made.
	Calls int64
	// Errors holds the first few failures, for the log.
	Errors []string
}

type township struct{ code, token, name string }

var townships = []township{
	{"330421001", "demo-weitang", "魏塘街道"}, {"330421002", "demo-luoxing", "罗星街道"}, {"330421003", "demo-huimin", "惠民街道"},
	{"330421102", "demo-dayun", "大云镇"}, {"330421103", "demo-xitang", "西塘镇"}, {"330421105", "demo-ganyao", "干窑镇"},
	{"330421107", "demo-taozhuang", "陶庄镇"}, {"330421111", "demo-yaozhuang", "姚庄镇"}, {"330421112", "demo-tianning", "天凝镇"},
}

// townshipWeights: the three 街道 of the county seat carry most cases.
var townshipWeights = []int{22, 14, 12, 8, 10, 7, 8, 10, 9}

type topic struct {
	name, dept, deptToken, subject, content, basis string
}

var topics = []topic{
	{"城乡建设/物业管理", "330421.zjj", "demo-zjj", "小区物业服务不到位", "小区电梯长期故障、公共区域卫生无人打扫，业主多次向物业反映未果，请求主管部门督促整改。", "《物业管理条例》"},
	{"城乡建设/房屋征收", "330421.zjj", "demo-zjj", "房屋征收补偿标准疑问", "对所在片区房屋征收补偿标准及安置方式有疑问，请求公开评估依据并重新核算。", "《国有土地上房屋征收与补偿条例》"},
	{"劳动社保/欠薪", "330421.rsj", "demo-rsj", "工程款拖欠导致农民工工资未发", "在某工地务工四个月，工资至今未结清，多次向包工头讨要无果，请求协调支付。", "《保障农民工工资支付条例》"},
	{"劳动社保/社保待遇", "330421.rsj", "demo-rsj", "养老保险待遇核定有误", "退休后养老金核定金额与缴费年限不符，请求重新核定并补发差额。", "《社会保险法》"},
	{"国土资源/土地承包", "330421.zrzyj", "demo-zrzyj", "土地承包经营权纠纷", "村集体调整承包地时未征求本户意见，承包面积减少，请求依法处理。", "《农村土地承包法》"},
	{"农业农村/宅基地", "330421.nyncj", "demo-nyncj", "宅基地审批进度咨询", "申请宅基地建房已逾半年未获审批，请求告知办理进度和所缺材料。", "《土地管理法》"},
	{"生态环境/噪声污染", "330421.sthj", "demo-sthj", "企业夜间生产噪声扰民", "附近工厂夜间持续生产，噪声严重影响居民休息，请求执法检查。", "《噪声污染防治法》"},
	{"市场监管/消费维权", "330421.scjgj", "demo-scjgj", "预付卡商家关门无法退款", "在健身房办理预付卡后商家突然停业，余额无法退还，请求协调处理。", "《消费者权益保护法》"},
	{"教育/入学", "330421.jyj", "demo-jyj", "子女入学学区划分问题", "新购住房所在小区学区划分与宣传不符，子女无法就近入学，请求核实。", "《义务教育法》"},
	{"卫生健康/医疗服务", "330421.wjj", "demo-wjj", "医院收费明细不清", "住院结算单中部分项目收费不明，请求核查是否存在重复收费。", "《医疗纠纷预防和处理条例》"},
	{"民政/社会救助", "330421.mzj", "demo-mzj", "低保申请被驳回", "家庭收入低于当地低保标准，申请低保被驳回，请求说明理由并复核。", "《社会救助暂行办法》"},
}

// topicWeights: wages, property and land lead, as in most counties.
var topicWeights = []int{16, 8, 18, 8, 9, 6, 7, 7, 6, 5, 10}

var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
var givenNames = []string{"建国", "秀英", "卫东", "丽华", "志强", "海燕", "明", "芳", "伟", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "超", "霞", "平", "刚", "桂英", "玉兰", "春梅", "国华", "永明"}

func pick[T any](r *rand.Rand, xs []T, weights []int) T {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return xs[i]
		}
		n -= w
	}
	return xs[len(xs)-1]
}

// idNumber makes a valid 18-digit resident id (GB 11643 check digit) of
// someone born in the county.
func idNumber(r *rand.Rand) string {
	birth := time.Date(1950+r.IntN(55), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)
	body := "330421" + birth.Format("20060102") + fmt.Sprintf("%03d", r.IntN(1000))
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range body {
		sum += int(c-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

func phone(r *rand.Rand) string {
	prefixes := []string{"138", "139", "135", "137", "150", "151", "158", "159", "182", "187", "188", "133", "153", "180", "189", "130", "131", "132", "155", "156", "186"}
	return prefixes[r.IntN(len(prefixes))] + fmt.Sprintf("%08d", r.IntN(100000000))
}

func name(r *rand.Rand) string {
	return string(surnames[r.IntN(len(surnames))]) + givenNames[r.IntN(len(givenNames))]
}

// plan is one generated case and how its story goes.
type plan struct {
	index    int
	received time.Time
	town     township
	atBureau bool // registered at the county bureau (走访 to the county, 来信, 网上)
	channel  string
	class    string
	topic    topic
	heads    int
	petition []map[string]any
}

// Load generates opts.Cases cases and works them through the API.
func Load(ctx context.Context, opts Options) (Result, error) {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.End.IsZero() {
		opts.End = time.Now()
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: opts.Workers * 2}}
	}
	plans := generate(opts)
	l := &loader{opts: opts}
	var (
		res    Result
		mu     sync.Mutex
		done   int
		wg     sync.WaitGroup
		work   = make(chan *plan)
		failed int
	)
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				err := l.run(ctx, p)
				mu.Lock()
				done++
				if err != nil && ctx.Err() == nil {
					failed++
					if len(res.Errors) < 10 {
						res.Errors = append(res.Errors, fmt.Sprintf("case %d: %v", p.index, err))
					}
				}
				if opts.Progress != nil {
					opts.Progress(done, failed)
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range plans {
		select {
		case work <- p:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	res.Cases, res.Failed, res.Calls = done, failed, l.calls.Load()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// generate draws the cases, oldest first.
func generate(opts Options) []*plan {
	r := rand.New(rand.NewPCG(opts.Seed, 0x7042))
	start := opts.End.AddDate(-1, 0, 0)
	span := opts.End.Sub(start)
	var out []*plan
	for i := range opts.Cases {
		// Spread over the year, by working hours, fewer on weekends.
		at := start.Add(time.Duration(float64(span) * (float64(i) + r.Float64()) / float64(opts.Cases))).In(calendar.China)
		at = time.Date(at.Year(), at.Month(), at.Day(), 8+r.IntN(9), r.IntN(60), 0, 0, calendar.China)
		if at.After(opts.End) {
			at = opts.End.Add(-time.Hour)
		}
		p := &plan{index: i, received: at, town: pick(r, townships, townshipWeights)}
		p.topic = pick(r, topics, topicWeights)
		p.class = pick(r, []string{"CASE_CLASS_CLAIM", "CASE_CLASS_SUGGESTION", "CASE_CLASS_ACCUSATION"}, []int{76, 16, 8})
		p.channel = pick(r, []string{"CHANNEL_VISIT", "CHANNEL_LETTER", "CHANNEL_PHONE", "CHANNEL_WEB"}, []int{34, 14, 20, 32})
		p.atBureau = r.IntN(100) < 30 || p.class == "CASE_CLASS_ACCUSATION"
		p.heads = 1
		switch n := r.IntN(100); {
		case n < 3:
			p.heads = 5 + r.IntN(26) // 集体访
		case n < 9:
			p.heads = 2 + r.IntN(3)
		}
		if len(out) > 20 && r.IntN(100) < 6 {
			// The same person comes again about the same matter (重复信访).
			prev := out[r.IntN(len(out))]
			if prev.heads == 1 {
				p.town, p.topic, p.class, p.heads = prev.town, prev.topic, prev.class, 1
				p.petition = prev.petition
			}
		}
		if p.petition == nil {
			reps := 1
			if p.heads >= 5 {
				reps = 2 + r.IntN(2)
			}
			for k := range min(p.heads, max(reps, 1)) {
				pet := map[string]any{"displayName": name(r), "idNumber": idNumber(r), "phone": phone(r)}
				if p.heads >= 5 && k < reps {
					pet["representative"] = true
				}
				p.petition = append(p.petition, pet)
			}
		}
		out = append(out, p)
	}
	return out
}

type loader struct {
	opts  Options
	calls atomic.Int64
}

// errNotYet is a 404 right after registration: assignment has not read
// the case from intake's feed yet.
var errNotYet = errors.New("not yet known")

// call makes one API call at the demo time at (zero: now) and decodes the
// reply into out.
func (l *loader) call(ctx context.Context, method, path, token string, at time.Time, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.opts.Gateway+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if !at.IsZero() {
		req.Header.Set(democlock.Header, at.UTC().Format(time.RFC3339Nano))
		req.Header.Set(democlock.KeyHeader, l.opts.ClockKey)
	}
	l.calls.Add(1)
	resp, err := l.opts.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w: %s", method, path, errNotYet, raw)
	case resp.StatusCode >= 300:
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// story is one case's walk: each step acts at its demo time; steps in the
// future of End are not taken (the case is still open).
type story struct {
	l      *loader
	p      *plan
	number string
	at     time.Time
	step   int
	r      *rand.Rand
}

var errFuture = errors.New("in the future")

// move takes an action on the case after the given delay.
func (s *story) move(ctx context.Context, token, action string, delay time.Duration, body map[string]any) error {
	s.at = s.at.Add(delay)
	if s.at.After(s.l.opts.End) {
		return errFuture
	}
	s.step++
	// Named by the action (each is taken at most once in a story), so a
	// rerun after a change of the story keeps its keys apart.
	key := fmt.Sprintf("demo-%d-%d-%s", s.l.opts.Seed, s.p.index, action)
	path := "/v1/cases/" + s.number + ":" + action
	for attempt := 0; ; attempt++ {
		err := s.l.call(ctx, "POST", path, token, s.at, key, body, nil)
		if due, ok := periodOpen(err); ok && attempt == 0 {
			// Closing before the next-instance period ended (it is rolled
			// over holidays): wait for its end, as the clerk would.
			s.at = due.Add(34 * time.Hour)
			if s.at.After(s.l.opts.End) {
				return errFuture
			}
			continue
		}
		if err == nil || !errors.Is(err, errNotYet) || attempt > 100 || s.step > 1 {
			return err
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil { // the case has not crossed from intake to assignment yet
			return err
		}
	}
}

// leaders who make appointments, by the office that arranges them.
var leaders = map[string][][2]string{
	"demo-bureau": {{"沈某", "副县长"}, {"朱某", "县信访局局长"}, {"陆某", "县委常委"}},
}

// appointment has a leader of the registering office (a township's head,
// or a county leader for the bureau) meet the petitioner a few days on.
func (s *story) appointment(ctx context.Context, office string) error {
	when := s.at.Add(days(2 + s.r.Float64()*10))
	if when.After(s.l.opts.End) {
		return nil
	}
	who, ok := leaders[office]
	if !ok {
		// Two leaders per township, named the same on every run.
		k := int(s.p.town.code[len(s.p.town.code)-1])
		who = [][2]string{{string(surnames[k%len(surnames)]) + "某", "党委书记"}, {string(surnames[(k*7+3)%len(surnames)]) + "某", "乡镇长（主任）"}}
	}
	l := who[s.r.IntN(len(who))]
	body := map[string]any{"leader": l[0], "leaderTitle": l[1], "case": "cases/" + s.number, "startTime": when.UTC().Format(time.RFC3339), "place": "信访接待室"}
	for attempt := 0; ; attempt++ {
		err := s.l.call(ctx, "POST", "/v1/appointments", office, time.Time{}, fmt.Sprintf("demo-%d-%d-appointment", s.l.opts.Seed, s.p.index), body, nil)
		if err == nil || !errors.Is(err, errNotYet) || attempt > 100 {
			return err
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil { // scheduling has not heard of the case yet
			return err
		}
	}
}

var dueDate = regexp.MustCompile(`"reason":\s*"NEXT_INSTANCE_PERIOD_OPEN".*"due":\s*"(\d{4}-\d{2}-\d{2})"`)

// periodOpen reads the end of the next-instance period from a refusal to
// close.
func periodOpen(err error) (time.Time, bool) {
	if err == nil {
		return time.Time{}, false
	}
	m := dueDate.FindStringSubmatch(err.Error())
	if m == nil {
		return time.Time{}, false
	}
	t, perr := time.ParseInLocation(time.DateOnly, m[1], calendar.China)
	return t, perr == nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func days(d float64) time.Duration { return time.Duration(d * 24 * float64(time.Hour)) }

func (l *loader) run(ctx context.Context, p *plan) error {
	r := rand.New(rand.NewPCG(l.opts.Seed, uint64(p.index)+1))
	registrar := p.town.token
	if p.atBureau {
		registrar = "demo-bureau"
	}
	body := map[string]any{
		"channel": p.channel, "township": p.town.code, "caseClass": p.class, "topic": p.topic.name,
		"subject": p.topic.subject, "content": p.topic.content + "（" + p.town.name + "）", "petitioners": p.petition,
		"receiveTime": p.received.UTC().Format(time.RFC3339), "headCount": p.heads,
	}
	var created struct {
		CaseNumber string `json:"caseNumber"`
	}
	registered := p.received.Add(time.Duration(5+r.IntN(55)) * time.Minute)
	if err := l.call(ctx, "POST", "/v1/cases", registrar, registered, fmt.Sprintf("demo-%d-%d-0", l.opts.Seed, p.index), body, &created); err != nil {
		return err
	}
	s := &story{l: l, p: p, number: created.CaseNumber, at: registered, r: r}
	err := s.walk(ctx, registrar)
	if errors.Is(err, errFuture) {
		return nil
	}
	return err
}

// walk is the case's story after registration.
func (s *story) walk(ctx context.Context, registrar string) error {
	r, p := s.r, s.p
	late := r.IntN(100) < 9 // this case will be handled late somewhere
	holder, holderToken := registrar, registrar
	wait := func(onTime, lateBy float64) time.Duration {
		if late && r.IntN(3) == 0 {
			late = false
			return days(lateBy + r.Float64()*lateBy)
		}
		return days(onTime * (0.2 + r.Float64()))
	}
	// Some petitioners are met by a leader by appointment (约访).
	if r.IntN(100) < 4 {
		if err := s.appointment(ctx, registrar); err != nil {
			return err
		}
	}
	// At a township: most are handled there; some are referred up.
	if !p.atBureau {
		if r.IntN(100) < 22 {
			if err := s.move(ctx, holderToken, "referUp", wait(1, 6), map[string]any{"reason": "涉及县级部门职责，镇级无法协调"}); err != nil {
				return err
			}
			holder, holderToken = "bureau", "demo-bureau"
		}
	}
	if holder != registrar || p.atBureau {
		// The bureau routes it: accusations to the discipline organ, the
		// rest to the department of the topic, which signs for it.
		route := map[string]any{"reason": "按职责分类转送"}
		receiver := "demo-jw"
		if p.class != "CASE_CLASS_ACCUSATION" {
			route["toOffice"] = "offices/" + p.topic.dept
			receiver = p.topic.deptToken
		}
		if err := s.move(ctx, "demo-bureau", "route", wait(2, 6), route); err != nil {
			return err
		}
		if err := s.move(ctx, receiver, "signFor", wait(1, 7), map[string]any{}); err != nil {
			return err
		}
		holderToken = receiver
	}
	if r.IntN(100) < 4 {
		return s.move(ctx, holderToken, "decline", wait(2, 6), map[string]any{
			"channel": "STATUTORY_CHANNEL_LITIGATION", "notice": "该事项属于人民法院受理范围，请依法向人民法院提起诉讼。",
		})
	}
	if err := s.move(ctx, holderToken, "accept", wait(2, 6), map[string]any{"notice": "已受理，将在法定期限内答复。"}); err != nil {
		return err
	}
	handling := 30.0                                      // Zhejiang: 30 days
	if p.class == "CASE_CLASS_CLAIM" && r.IntN(100) < 5 { // only a claim's handling period is extended
		if err := s.move(ctx, holderToken, "extend", days(20), map[string]any{"days": 30, "reason": "需多部门会商", "approvedBy": "局长"}); err != nil {
			return err
		}
		handling += 10
	}
	outcome := pick(r, []string{"ANSWER_OUTCOME_SUPPORT", "ANSWER_OUTCOME_EXPLAIN", "ANSWER_OUTCOME_REJECT"}, []int{45, 40, 15})
	answerAfter := wait(handling*0.6, handling*0.5)
	if r.IntN(100) < 6 {
		answerAfter = days(handling + 3 + r.Float64()*25) // past the handling period
	}
	if err := s.move(ctx, holderToken, "answer", answerAfter, map[string]any{
		"outcome": outcome, "text": "经调查核实，" + p.topic.subject + "一事已依法处理，现将处理意见答复如下。", "legalBasis": p.topic.basis,
	}); err != nil {
		return err
	}
	if p.class != "CASE_CLASS_CLAIM" {
		return s.move(ctx, "demo-bureau", "close", days(2), map[string]any{})
	}
	if r.IntN(100) < 12 {
		return nil // not evaluated; closes when the review window ends
	}
	rating := pick(r, []string{"RATING_SATISFIED", "RATING_BASICALLY_SATISFIED", "RATING_UNSATISFIED"}, []int{72, 17, 11})
	if outcome == "ANSWER_OUTCOME_REJECT" && r.IntN(2) == 0 {
		rating = "RATING_UNSATISFIED"
	}
	if err := s.move(ctx, holderToken, "evaluate", days(1+r.Float64()*3), map[string]any{"rating": rating}); err != nil {
		return err
	}
	closeAfter := days(1 + r.Float64()*5)
	if rating != "RATING_SATISFIED" {
		// Not (fully) satisfied: the case closes only when the period for
		// the next instance (30 days) has passed unused.
		closeAfter = days(31 + r.Float64()*10)
	}
	if rating == "RATING_UNSATISFIED" && r.IntN(100) < 60 {
		if err := s.move(ctx, registrar, "requestReview", days(3+r.Float64()*20), map[string]any{"reason": "对处理意见不服，申请复查"}); err != nil {
			return err
		}
		if err := s.move(ctx, "demo-bureau", "review", days(10+r.Float64()*18), map[string]any{
			"outcome": pick(r, []string{"ANSWER_OUTCOME_SUPPORT", "ANSWER_OUTCOME_REJECT"}, []int{25, 75}), "text": "经复查，原处理意见认定事实清楚，维持原处理意见。",
		}); err != nil {
			return err
		}
	}
	return s.move(ctx, "demo-bureau", "close", closeAfter, map[string]any{})
}
