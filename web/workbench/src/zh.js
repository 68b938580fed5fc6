// The API's messages are English and exact; the workbench shows the common
// ones in Chinese, and any other as the API wrote it.

const fieldMessages = [
  [/^is required\b.*/, '必填'],
  [/^must be at most (\d+) characters(, has (\d+))?.*/, (m) => `不能超过 ${m[1]} 个字${m[3] ? `（现有 ${m[3]} 个）` : ''}`],
  [/^must be 18 characters/, '公民身份号码应为 18 位'],
  [/^the first 17 characters must be digits/, '身份号码前 17 位应为数字'],
  [/^the check character must be an upper-case X/, '校验码应为大写 X'],
  [/^check digit does not match/, '校验码不符（GB 11643），请核对号码'],
  [/^the birth date inside the number is not a date/, '号码中的出生日期无效'],
  [/^must contain only digits/, '只能包含数字（座机区号后可有一个连字符）'],
  [/^not a mainland mobile number/, '不是有效的手机号码'],
  [/^must be an 11-digit mobile number/, '应为 11 位手机号码，或带区号的座机号码，如 0573-84012345'],
  [/^is not a township of county/, '不是本县的乡镇（街道）'],
  [/^must not be in the future/, '不能晚于当前时间'],
  [/^must not be in the past/, '不能早于今天'],
  [/^is not a valid time/, '时间无效'],
  [/^must be valid UTF-8/, '含有无效字符'],
  [/^must not contain control characters/, '不能包含控制字符'],
  [/^name at least one petitioner, or set anonymous/, '请至少填写一名信访人，或选择匿名'],
  [/^an anonymous petition names no petitioner/, '匿名信访不填写信访人'],
  [/^cannot be fewer than the (\d+) petitioners named/, (m) => `不能少于已填写的 ${m[1]} 名信访人`],
  [/^only a group petition \((\d+) or more people\) names representatives/, (m) => `只有集体访（${m[1]} 人及以上）才推选代表`],
  [/^a group petition of (\d+) people names its representatives/, (m) => `${m[1]} 人的集体访须推选代表（勾选“代表”）`],
  [/^a group of (\d+) people names at most (\d+) representatives, not (\d+)/, (m) => `${m[1]} 人的集体访代表不超过 ${m[2]} 名（现为 ${m[3]} 名）`],
  [/^is only for an accusation/, '仅检举控告类填写'],
  [/^an organisation has no resident ID number/, '法人或其他组织不填写公民身份号码'],
  [/^is not an office of county/, '不是本县的机关'],
  [/^must be a (\w+) office, not (.+)/, (m) => `应选择${{ department: '县直部门', township: '乡镇（街道）', bureau: '信访局' }[m[1]] || m[1]}，而不是 ${m[2]}`],
  [/^(.+) is closed and takes no new cases/, (m) => `${m[1]} 已撤销，不再接收案件`],
  [/^must be a date "YYYY-MM-DD"/, '日期格式应为 YYYY-MM-DD'],
  [/^give the resident ID number or the phone number/, '请填写身份号码或电话'],
];

/** A field violation's description in Chinese when it is a common one. */
export function zhField(description) {
  for (const [re, zh] of fieldMessages) {
    const m = re.exec(description);
    if (m) return typeof zh === 'function' ? zh(m) : zh;
  }
  return description;
}

const reasons = {
  ETAG_MISMATCH: '案件已被他人更新，请刷新后再办理',
  ROLE_NOT_ALLOWED: '您的角色不能办理此项操作',
  OFFICE_KIND_NOT_ALLOWED: '本机关不能办理此项操作',
  NOT_HOLDER: '只有当前承办机关可以办理',
  NOT_PENDING_OFFICE: '只有待签收的机关可以办理',
  NOT_CO_HANDLER: '只有协办单位可以办理',
  CASE_STATE_CONFLICT: '案件当前状态不能办理此项操作',
  CASE_FINAL: '该事项已三级终结，不再受理',
  TRANSFER_TO_SELF: '案件已由该机关承办',
  ACCUSED_UNIT: '检举控告事项不能交由被检举单位办理',
  ALREADY_EXTENDED: '办理期限已延长过一次',
  ALREADY_REPORTED: '已提交办结报告',
  OBJECTION_PERIOD_OVER: '异议期已过，不能退回',
  PERIOD_OVER: '期限已过',
  NO_HIGHER_ORGAN: '没有上一级复查复核机关',
  TOKEN_MISSING: '请先登录',
  TOKEN_INVALID: '登录已失效，请重新登录',
  CASE_NOT_FOUND: '没有这个案件，或您无权查看',
  TOKEN_EXPIRED: '登录已过期，请重新登录',
  RATE_LIMITED: '操作过于频繁，请稍后再试',
};

/** An API error's message in Chinese when its reason is a common one. */
export function zhError(err) {
  return reasons[err.reason] || err.message;
}
