// The county dashboard: reads GET /v1/counties/{county}/report and
// /deadlines with the caller's token (same origin as the API) and draws
// them with the vendored Apache ECharts. No request leaves the origin.
"use strict";

// "-" is the county this deployment serves; reports name it.
const COUNTY = "-";
const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = "tongban.token";

const CLOCKS = {
  CLOCK_KIND_ROUTING: "受理/分类处理", CLOCK_KIND_ACCEPTANCE: "告知受理", CLOCK_KIND_HANDLING: "办理",
  CLOCK_KIND_REVIEW: "复查", CLOCK_KIND_RE_REVIEW: "复核", CLOCK_KIND_REPORT: "办结报告",
};
const STATES = {
  CASE_STATE_REGISTERED: "已登记", CASE_STATE_IN_HANDLING: "办理中", CASE_STATE_ANSWERED: "已答复",
  CASE_STATE_TRANSFERRED: "转送待签收", CASE_STATE_RETURN_REQUESTED: "申请退回", CASE_STATE_ROUTED: "已分类转送",
  CASE_STATE_DECLINED: "不予受理", CASE_STATE_EVALUATED: "已评价", CASE_STATE_REVIEW_REQUESTED: "申请复查",
  CASE_STATE_REVIEWED: "已复查", CASE_STATE_RE_REVIEW_REQUESTED: "申请复核", CASE_STATE_FINAL: "三级终结",
  CASE_STATE_CLOSED: "已办结",
};
const ACTIONS = {
  ACTION_REGISTER: "登记", ACTION_REFER_UP: "上报", ACTION_TRANSFER: "转送", ACTION_ANSWER: "答复",
  ACTION_ROUTE: "分类转送", ACTION_SIGN_FOR: "签收", ACTION_SEND_BACK: "退回", ACTION_ACCEPT_RETURN: "同意退回",
  ACTION_ESCALATE: "提交信访局", ACTION_ACCEPT: "受理", ACTION_DECLINE: "不予受理", ACTION_ASSIGN_DOWN: "交办",
  ACTION_REPORT: "办结报告", ACTION_EXTEND: "延期", ACTION_EVALUATE: "满意度评价", ACTION_REQUEST_REVIEW: "复查申请",
  ACTION_REVIEW: "复查意见", ACTION_REQUEST_RE_REVIEW: "复核申请", ACTION_RE_REVIEW: "复核意见", ACTION_CLOSE: "办结",
};

// Formatting shared with the browser test: counts with grouping, rates as
// percentages with one decimal, "—" when a rate has no denominator.
const num = (v) => Number(v || 0).toLocaleString("zh-CN");
const pct = (v) => (v === undefined || v === null ? "—" : (v * 100).toFixed(1) + "%");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

let token = "";
let county = "";
let titles = {};
const charts = {};

function signedIn(t) {
  token = t;
  localStorage.setItem(TOKEN_KEY, t);
  $("#signin").hidden = true;
  $("#board").hidden = false;
}

async function api(path) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(body.message || resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return body;
}

function monthOf(d) {
  return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0");
}

function query() {
  const p = new URLSearchParams({ startMonth: $("#start").value, endMonth: $("#end").value });
  if ($("#township").value) p.set("township", $("#township").value);
  return p;
}

async function load() {
  const status = $("#status");
  status.className = "status";
  status.textContent = "正在加载…";
  try {
    const q = query();
    const report = await api(`/v1/counties/${COUNTY}/report?` + q);
    const dq = new URLSearchParams({ pageSize: "20" });
    if (q.get("township")) dq.set("township", q.get("township"));
    const [overdue, atRisk] = await Promise.all([
      api(`/v1/counties/${COUNTY}/deadlines?status=DEADLINE_STATUS_OVERDUE&` + dq),
      api(`/v1/counties/${COUNTY}/deadlines?status=DEADLINE_STATUS_AT_RISK&` + dq),
    ]);
    render(report, overdue, atRisk);
    status.textContent = "";
    document.body.dataset.loaded = "true";
  } catch (e) {
    if (e.status === 401) {
      signOut("令牌无效，请重新登录。");
      return;
    }
    status.className = "status error";
    status.textContent = "加载失败：" + e.message;
  }
}

function render(r, overdue, atRisk) {
  const f = r.figures || {};
  for (const t of r.townships || []) titles[t.office] = t.title;
  for (const d of r.departments || []) titles[d.office] = d.title;
  for (const l of r.leaders || []) titles[l.office] = l.officeTitle;
  for (const d of [...(overdue.deadlines || []), ...(atRisk.deadlines || [])]) titles[d.deadline.office] = d.officeTitle;
  // An office's report counts the cases it may list; the bureau's township
  // filter, the cases concerning the township. Say which.
  let scope = "全县";
  if (r.township) scope = (titles["offices/" + r.township] || r.township) + "（涉及该乡镇的信访事项）";
  if (r.office) scope = (titles[r.office] || r.office) + "（本单位登记、办理或承接的信访事项）";
  $("#scope").textContent = `${scope} · ${r.startMonth} 至 ${r.endMonth}`;
  county = r.county;
  lockScope(r);

  const values = {
    cases: num(f.cases), persons: num(f.persons), group_cases: num(f.groupCases), referred_up: num(f.referredUp),
    repeats: num(f.repeats), timely_routing_rate: pct(f.timelyRoutingRate), on_time_answer_rate: pct(f.onTimeAnswerRate),
    closed_rate: pct(f.closedRate), resolution_rate: pct(f.resolutionRate), evaluation_rate: pct(f.evaluationRate), satisfaction_rate: pct(f.satisfactionRate),
    reviews: num(f.reviews) + " / " + num(f.reReviews), overdue_now: num(r.overdueNow), at_risk_now: num(r.atRiskNow),
  };
  for (const card of document.querySelectorAll("[data-figure]")) {
    card.querySelector(".value").textContent = values[card.dataset.figure];
  }
  change($("[data-change=yoy]"), "同比", r.casesChangeYearOnYear, r.yearAgoStartMonth, r.yearAgoEndMonth, r.yearAgoPartial, r.recordsStartMonth);
  change($("[data-change=pop]"), "环比", r.casesChangePeriodOnPeriod, r.previousStartMonth, r.previousEndMonth, r.previousPartial, r.recordsStartMonth);

  drawCharts(r);
  unitTable($("#townships"), r.townships || [], "乡镇（街道）");
  unitTable($("#departments"), r.departments || [], "部门");
  deadlineTable($("#overdue"), overdue.deadlines || [], true);
  deadlineTable($("#at-risk"), atRisk.deadlines || [], false);
  $("#overdue-more").textContent = overdue.nextPageToken ? `仅显示最早到期的 20 件，共 ${num(r.overdueNow)} 件` : "";
  $("#at-risk-more").textContent = atRisk.nextPageToken ? `仅显示最早到期的 20 件，共 ${num(r.atRiskNow)} 件` : "";
  $("#leaders").innerHTML = "<thead><tr><th>领导</th><th>单位</th><th class=num>接访（人次）</th><th class=num>约访（次）</th></tr></thead><tbody>" +
    (r.leaders || []).map((l) => `<tr><td>${esc(l.leader)}</td><td>${esc(l.officeTitle || l.office)}</td><td class=num>${num(l.receptionMeetings)}</td><td class=num>${num(l.appointments)}</td></tr>`).join("") +
    "</tbody>";
  $("#asof").textContent = r.asOf ? "数据截至 " + new Date(r.asOf).toLocaleString("zh-CN") : "暂无数据";
}

// change shows a comparison, naming the months it compares with; one the
// records do not cover (the API leaves it unset) says why it is absent.
function change(el, label, v, from, to, partial, recordsStart) {
  el.className = "change";
  const span = from === to ? from : `${from} 至 ${to}`;
  el.title = `与 ${span} 相比`;
  el.dataset.period = span;
  if (partial) {
    el.textContent = label + " —";
    el.title = `对比期 ${span} 早于数据起始月 ${recordsStart}（不完整），不作比较`;
    return;
  }
  if (v === undefined || v === null) {
    el.textContent = label + " —";
    el.title = `对比期 ${span} 无信访事项`;
    return;
  }
  el.classList.add(v > 0 ? "up" : v < 0 ? "down" : "flat");
  el.textContent = `${label} ${v > 0 ? "+" : ""}${(v * 100).toFixed(1)}%`;
}

// lockScope fills the township choice from the county's ranking and
// locks it for a township or department caller (the API decides; the page
// only shows it).
function lockScope(r) {
  const sel = $("#township");
  if (r.office) {
    // A township's or a department's own report: no other scope to choose.
    sel.innerHTML = `<option value="">${esc(titles[r.office] || r.office)}</option>`;
    sel.disabled = true;
    return;
  }
  const have = new Set([...sel.options].map((o) => o.value));
  for (const t of r.townships || []) {
    const code = t.office.replace("offices/", "");
    if (!have.has(code)) sel.add(new Option(t.title, code));
  }
}

function unitTable(table, units, what) {
  table.innerHTML = `<thead><tr><th>#</th><th>${what}</th><th class=num>批次</th><th class=num>人次</th><th class=num>按期办结率</th><th class=num>结案率</th><th class=num>满意率</th></tr></thead><tbody>` +
    units.map((u, i) => {
      const f = u.figures || {};
      return `<tr data-office="${esc(u.office)}"><td>${i + 1}</td><td>${esc(u.title)}</td><td class=num>${num(f.cases)}</td><td class=num>${num(f.persons)}</td>` +
        `<td class=num>${pct(f.onTimeAnswerRate)}</td><td class=num>${pct(f.closedRate)}</td><td class=num>${pct(f.satisfactionRate)}</td></tr>`;
    }).join("") + "</tbody>";
}

function deadlineTable(table, list, overdue) {
  table.innerHTML = `<thead><tr><th>信访事项</th><th>时限</th><th>责任单位</th><th>到期</th>${overdue ? "<th class=num>超期天数</th>" : ""}</tr></thead><tbody>` +
    list.map((d) => {
      const n = d.case.replace("cases/", "");
      const dl = d.deadline || {};
      return `<tr><td><a class="case" data-case="${esc(n)}" tabindex="0">${esc(n)}</a></td><td title="${esc(dl.rule)}">${esc(CLOCKS[dl.kind] || dl.kind)}</td>` +
        `<td>${esc(d.officeTitle || dl.office)}</td><td>${new Date(dl.dueTime).toLocaleDateString("zh-CN")}</td>${overdue ? `<td class=num>${d.daysOverdue || 0}</td>` : ""}</tr>`;
    }).join("") + "</tbody>";
}

function chart(id) {
  if (!charts[id]) charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
  return charts[id];
}

function drawCharts(r) {
  const months = r.months || [];
  const ago = r.monthsYearAgo || [];
  chart("chart-trend").setOption({
    animation: false, tooltip: { trigger: "axis" }, legend: { top: 0, data: ["本期", "去年同期"] },
    grid: { left: 50, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "category", data: months.map((m) => m.key.slice(2)) }, yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: "本期", type: "line", smooth: true, data: months.map((m) => Number(m.cases || 0)) },
      { name: "去年同期", type: "line", smooth: true, lineStyle: { type: "dashed" }, data: ago.map((m) => Number(m.cases || 0)) },
    ],
  });
  chart("chart-channels").setOption({
    animation: false, tooltip: { trigger: "item" },
    series: [{ type: "pie", radius: ["35%", "70%"], data: (r.channels || []).map((c) => ({ name: c.label, value: Number(c.cases || 0) })) }],
  });
  const bars = (id, items) => chart(id).setOption({
    animation: false, tooltip: { trigger: "axis" }, grid: { left: 130, right: 30, top: 10, bottom: 20 },
    xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", inverse: true, data: items.map((c) => c.label) },
    series: [{ type: "bar", data: items.map((c) => Number(c.cases || 0)), label: { show: true, position: "right" } }],
  }, true);
  bars("chart-classes", r.classes || []);
  bars("chart-topics", r.topics || []);
}

async function showCase(n) {
  const dlg = $("#case");
  $("#case-title").textContent = "一案一卡 · " + n;
  $("#case-body").textContent = "正在加载…";
  dlg.showModal();
  try {
    const enc = encodeURIComponent(n);
    // The registration (identity masked as the caller's role requires),
    // the history, and the card when a leader is in charge (包案).
    const [reg, hist, card] = await Promise.all([
      api(`/v1/cases/${enc}`), api(`/v1/cases/${enc}/history?pageSize=100`), api(`/v1/cases/${enc}/card`).catch(() => null),
    ]);
    const c = hist.case || {};
    const lead = card && card.lead ? `${esc(card.lead.leader)}（${esc(card.lead.leaderTitle || "")}）` : "—";
    $("#case-body").innerHTML =
      `<dl><dt>事项</dt><dd>${esc(reg.subject)}</dd><dt>问题类别</dt><dd>${esc(reg.topic || "—")}</dd>` +
      `<dt>状态</dt><dd>${esc(STATES[c.state] || c.state)}${card && card.overdue ? "（超期）" : ""}</dd>` +
      `<dt>办理单位</dt><dd>${esc(titles[c.holderOffice] || c.holderOffice)}</dd><dt>包案领导</dt><dd>${lead}</dd></dl>` +
      "<h3>办理过程</h3><table><thead><tr><th>时间</th><th>环节</th><th>单位</th><th>说明</th></tr></thead><tbody>" +
      (hist.entries || []).map((e) => `<tr><td>${new Date(e.time).toLocaleString("zh-CN")}</td><td>${esc(ACTIONS[e.action] || e.action)}</td>` +
        `<td>${esc(titles[e.actorOffice] || e.actorOffice)}</td><td>${esc(e.note)}</td></tr>`).join("") + "</tbody></table>";
  } catch (e) {
    $("#case-body").textContent = e.status === 404 ? "无权查看或不存在。" : "加载失败：" + e.message;
  }
}

async function download(format, ext) {
  const q = query();
  const month = q.get("endMonth");
  const p = new URLSearchParams({ format });
  if (q.get("township")) p.set("township", q.get("township"));
  const resp = await fetch(`/v1/counties/${COUNTY}/reports/${month}:export?` + p, { headers: { Authorization: "Bearer " + token } });
  if (!resp.ok) {
    $("#status").className = "status error";
    $("#status").textContent = "导出失败：" + ((await resp.json().catch(() => ({}))).message || resp.statusText);
    return;
  }
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await resp.blob());
  a.download = `信访月报-${county}-${month}.${ext}`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// signIn uses the account's username and password (POST /v1/sessions) or,
// without them, a token typed in.
async function signIn() {
  const user = $("#username").value.trim();
  if (!user) {
    const t = $("#token").value.trim();
    if (!t) {
      $("#signin-error").textContent = "请输入用户名和密码，或访问令牌。";
      return;
    }
    signedIn(t);
    load();
    return;
  }
  const resp = await fetch("/v1/sessions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: user, password: $("#password").value }),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    $("#signin-error").textContent = resp.status === 429 ? "失败次数过多，请稍后再试。" : "用户名或密码错误。";
    return;
  }
  $("#password").value = "";
  signedIn(body.accessToken);
  load();
}

function signOut(msg) {
  localStorage.removeItem(TOKEN_KEY);
  token = "";
  $("#board").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = msg || "";
}

function init() {
  const now = new Date();
  $("#end").value = monthOf(now);
  $("#start").value = now.getFullYear() + "-01";
  // A token in the fragment (make run prints such a link) never reaches a
  // server log; it is kept in this browser and removed from the address.
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const q = new URLSearchParams(location.search);
  if (q.get("start")) $("#start").value = q.get("start");
  if (q.get("end")) $("#end").value = q.get("end");
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("#signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn(); });
  $("#signout").addEventListener("click", (e) => { e.preventDefault(); signOut(); });
  $("#export-xlsx").addEventListener("click", () => download("EXPORT_FORMAT_XLSX", "xlsx"));
  $("#export-csv").addEventListener("click", () => download("EXPORT_FORMAT_CSV", "csv"));
  document.addEventListener("click", (e) => { const a = e.target.closest("a.case"); if (a) showCase(a.dataset.case); });
  document.addEventListener("keydown", (e) => { const a = e.target.closest?.("a.case"); if (a && e.key === "Enter") showCase(a.dataset.case); });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  const saved = localStorage.getItem(TOKEN_KEY);
  if (saved) {
    signedIn(saved);
    load();
  } else {
    signOut();
  }
}

document.addEventListener("DOMContentLoaded", init);
