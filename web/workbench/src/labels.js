// zh-CN names of the API's enums and roles.

export const channels = {
  CHANNEL_VISIT: '走访',
  CHANNEL_LETTER: '来信',
  CHANNEL_PHONE: '来电',
  CHANNEL_WEB: '网上',
  CHANNEL_REFERRAL: '转入',
};

export const classes = {
  CASE_CLASS_SUGGESTION: '建议意见类',
  CASE_CLASS_ACCUSATION: '检举控告类',
  CASE_CLASS_CLAIM: '申诉求决类',
};

export const states = {
  CASE_STATE_REGISTERED: '已登记',
  CASE_STATE_IN_HANDLING: '办理中',
  CASE_STATE_ANSWERED: '已答复',
  CASE_STATE_TRANSFERRED: '转送待签收',
  CASE_STATE_RETURN_REQUESTED: '退回待定',
  CASE_STATE_ROUTED: '已签收待受理',
  CASE_STATE_DECLINED: '不予受理',
  CASE_STATE_EVALUATED: '已评价',
  CASE_STATE_REVIEW_REQUESTED: '复查申请',
  CASE_STATE_REVIEWED: '已复查',
  CASE_STATE_RE_REVIEW_REQUESTED: '复核申请',
  CASE_STATE_FINAL: '三级终结',
  CASE_STATE_CLOSED: '办结',
};

export const actions = {
  ACTION_REGISTER: '登记',
  ACTION_REFER_UP: '上报',
  ACTION_TRANSFER: '转送',
  ACTION_ANSWER: '答复',
  ACTION_ROUTE: '分类转送',
  ACTION_SIGN_FOR: '签收',
  ACTION_SEND_BACK: '退回',
  ACTION_ACCEPT_RETURN: '同意退回',
  ACTION_ESCALATE: '提交信访局',
  ACTION_ACCEPT: '受理',
  ACTION_DECLINE: '不予受理',
  ACTION_ASSIGN_DOWN: '交办',
  ACTION_REPORT: '办结报告',
  ACTION_EXTEND: '延期',
  ACTION_EVALUATE: '满意度评价',
  ACTION_REQUEST_REVIEW: '复查申请',
  ACTION_REVIEW: '复查意见',
  ACTION_REQUEST_RE_REVIEW: '复核申请',
  ACTION_RE_REVIEW: '复核意见',
  ACTION_CLOSE: '办结',
  ACTION_ADD_CO_HANDLER: '增加协办单位',
  ACTION_CONTRIBUTE: '协办意见',
  ACTION_RETURN_FOR_REWORK: '退回重办',
  ACTION_SET_URGENCY: '紧急标记',
  ACTION_TAKE_LEAD: '领导包案',
  ACTION_RECORD_PROGRESS: '一案一卡记录',
  ACTION_START_HEARING: '听证开始',
  ACTION_END_HEARING: '听证结束',
  ACTION_REOPEN: '纠正不予受理',
  ACTION_DEADLINE_MOVED: '期限随日历调整',
};

export const clocks = {
  CLOCK_KIND_ROUTING: '受理/分类处理',
  CLOCK_KIND_ACCEPTANCE: '告知受理',
  CLOCK_KIND_OBJECTION: '异议期',
  CLOCK_KIND_HANDLING: '办理期限',
  CLOCK_KIND_REVIEW_REQUEST: '复查申请期',
  CLOCK_KIND_REVIEW: '复查期限',
  CLOCK_KIND_RE_REVIEW_REQUEST: '复核申请期',
  CLOCK_KIND_RE_REVIEW: '复核期限',
  CLOCK_KIND_REPORT: '办结报告期限',
};

export const outcomes = {
  ANSWER_OUTCOME_SUPPORT: '支持',
  ANSWER_OUTCOME_EXPLAIN: '解释说明',
  ANSWER_OUTCOME_REJECT: '不予支持',
};

export const answerForms = {
  ANSWER_FORM_OPINION: '信访处理意见书',
  ANSWER_FORM_AGREEMENT: '调解/和解协议书',
};

export const ratings = {
  RATING_SATISFIED: '满意',
  RATING_BASICALLY_SATISFIED: '基本满意',
  RATING_UNSATISFIED: '不满意',
};

export const statutoryChannels = {
  STATUTORY_CHANNEL_LITIGATION: '诉讼',
  STATUTORY_CHANNEL_ARBITRATION: '仲裁',
  STATUTORY_CHANNEL_ADMINISTRATIVE_RECONSIDERATION: '行政复议',
  STATUTORY_CHANNEL_ADMINISTRATIVE_PROCEDURE: '行政裁决、确认、许可、处罚等行政程序',
  STATUTORY_CHANNEL_PARTY_PROCEDURE: '党员申诉、申请复审',
  STATUTORY_CHANNEL_LEGAL_PROCEDURE: '检察、公安程序',
};

export const contributionKinds = {
  CONTRIBUTION_KIND_FINDING: '调查核实情况',
  CONTRIBUTION_KIND_DRAFT: '答复意见草稿',
};

export const roles = {
  clerk: '信访员',
  handler: '承办人',
  leader: '领导',
  admin: '管理员',
  system: '外部系统',
};

export const petitionerKinds = {
  PETITIONER_KIND_PERSON: '公民',
  PETITIONER_KIND_ORGANIZATION: '法人或其他组织',
};

/** Common topics (事项分类), offered while typing; any topic may be typed. */
export const topics = [
  '城乡建设/物业管理',
  '城乡建设/房屋征收',
  '劳动社保/欠薪',
  '劳动社保/社保待遇',
  '国土资源/土地承包',
  '农业农村/宅基地',
  '生态环境/噪声污染',
  '市场监管/消费维权',
  '教育/入学',
  '卫生健康/医疗服务',
  '民政/社会救助',
];

export const options = (m) => Object.entries(m).map(([value, label]) => ({ value, label }));

/** A time as 2026-11-23 09:30 in China. */
export function fmtTime(t) {
  if (!t) return '';
  return new Date(t).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}

export function fmtDate(t) {
  if (!t) return '';
  return new Date(t).toLocaleDateString('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });
}
