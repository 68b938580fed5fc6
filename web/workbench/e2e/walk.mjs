// The workbench walked in Debian's Chromium with playwright-core, as
// gateway/e2e TestWorkbench runs it against a real stack: a township clerk
// registers a case (seeing the API's field errors and the repeat warning),
// prints the receipt and refers the case up; the bureau routes it to 住建局;
// the department signs for, accepts and answers it; the township sees the
// answer. Screenshots go to OUT_DIR. Prints "CASE <number>" and "ANSWER
// <text>" for the Go test to check through the API.
//
// Env: BASE_URL (the gateway), PASSWORD (of the accounts dayun.clerk,
// xfj.clerk, zjj.handler), ID_NUMBER (a petitioner with an earlier case at
// 大云镇), OUT_DIR, CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.BASE_URL;
const password = process.env.PASSWORD;
const idNumber = process.env.ID_NUMBER;
const out = process.env.OUT_DIR || 'out';
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
const page = await context.newPage();
page.setDefaultTimeout(20000);
const consoleErrors = [];
// Script errors fail the walk; the API's refusals the walk provokes (400s) are not errors of the page.
page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && consoleErrors.push(m.text()));
page.on('pageerror', (e) => consoleErrors.push(e.message));

const shot = (name) => page.screenshot({ path: join(out, `workbench-${name}.png`), fullPage: true });
function fail(msg) {
  throw new Error(msg);
}
/** Waits until the first element of locator shows text matching re (pages load what they show). */
async function expectText(locator, re, what) {
  await locator.first().waitFor();
  let t = '';
  for (const deadline = Date.now() + 15000; Date.now() < deadline; await page.waitForTimeout(200)) {
    t = await locator.first().innerText();
    if (re.test(t)) return t;
  }
  fail(`${what}: ${JSON.stringify(t)} does not match ${re}`);
}

async function signIn(user) {
  await page.goto(`${base}/workbench/#/`);
  await page.evaluate(() => sessionStorage.clear());
  await page.reload();
  await page.getByLabel('用户名').fill(user);
  await page.getByLabel('密码').fill(password);
  await page.getByRole('button', { name: /登\s*录/ }).click();
  await page.getByTestId('who').waitFor();
}

/** Picks an option of a select; search types into a searchable one (long lists render only what is in view). */
async function choose(label, text, search = '') {
  const box = page.getByLabel(label, { exact: true });
  const shown = page.locator('.ant-form-item', { has: box }).locator('.ant-select').first();
  for (let attempt = 0; attempt < 3; attempt++) {
    await box.click();
    if (search) await box.fill(search);
    const option = page.locator('.ant-select-dropdown:visible .ant-select-item-option', { hasText: text }).first();
    await option.waitFor();
    await page.waitForTimeout(150); // the filtered list settles before the click
    try {
      // On a loaded machine the dropdown can close while it is still
      // animating in (seen once in make test); open it again.
      await option.click({ timeout: 5000 });
    } catch {
      continue;
    }
    if ((await shown.innerText()).includes(text)) return;
  }
  fail(`${label}: could not choose ${text}`);
}

/** Opens a case, reloading while the event feeds carry it to assignment. */
async function openCase(number) {
  for (let i = 0; i < 40; i++) {
    await page.goto(`${base}/workbench/#/cases/${number}`);
    await page.reload();
    try {
      await page.getByTestId('case-state').waitFor({ timeout: 1500 });
      return;
    } catch {
      await page.waitForTimeout(500);
    }
  }
  fail(`case ${number} never opened`);
}

/** A button's name as antd writes it: two Chinese characters get a space between them. */
const spaced = (text) => new RegExp(`^${[...text].join('\\s*')}$`);

async function move(button, fill) {
  await page.getByTestId('actions').getByRole('button', { name: spaced(button) }).click();
  const modal = page.locator('.ant-modal:visible');
  await modal.waitFor();
  if (fill) await fill(modal);
  // On a loaded machine a click during the modal's opening animation can
  // be lost (seen once in make test: the form sat unsent for 20 s). The
  // form carries one request id, so clicking again cannot move twice.
  for (let attempt = 1; ; attempt++) {
    await modal.getByRole('button', { name: /确\s*定/ }).click();
    try {
      await modal.waitFor({ state: 'detached', timeout: attempt < 3 ? 7000 : 20000 });
      return;
    } catch (e) {
      if (attempt === 3 || (await modal.locator('.ant-form-item-explain-error, .ant-alert').count()) > 0) throw e;
    }
  }
}

async function waitState(re) {
  for (let i = 0; i < 40; i++) {
    const s = await page.getByTestId('case-state').innerText();
    if (re.test(s)) return s;
    await page.waitForTimeout(250);
    await page.getByRole('button', { name: /刷\s*新/ }).first().click();
  }
  fail(`the case never reached ${re}`);
}

/** A resident ID number with a wrong GB 11643 check digit. */
function wrongCheckDigit(id) {
  const last = id[17] === '0' ? '1' : '0';
  return id.slice(0, 17) + last;
}

try {
  // 1. A township clerk registers a case.
  await signIn('dayun.clerk');
  await expectText(page.getByTestId('who'), /大云镇/, 'signed in as');
  await page.getByLabel('事项标题').fill('村道路灯损坏三个月未修');
  await page.getByLabel('诉求内容').fill('东云村村道路灯自八月起损坏，夜间出行不便，多次向村委会反映未修复，请求督促维修。');
  await page.getByLabel('姓名（名称）').fill('王五');
  await page.getByLabel('联系电话').fill('138');
  await page.getByLabel('公民身份号码').fill(wrongCheckDigit(idNumber));
  await page.getByRole('button', { name: /登\s*记/ }).last().click();
  // The API's messages beside the fields it names.
  await expectText(page.locator('.ant-form-item-explain-error'), /校验码不符（GB 11643）/, 'the ID number error');
  await expectText(page.locator('.ant-form-item-explain-error', { hasText: '手机号码' }), /手机号码/, 'the phone error (in Chinese)');
  await shot('1-register-errors');
  await page.getByLabel('联系电话').fill('13857301234');
  await page.getByLabel('公民身份号码').fill(idNumber);
  await page.locator('input[type=file]').setInputFiles({ name: '现场照片说明.txt', mimeType: 'text/plain', buffer: Buffer.from('村道路灯损坏现场说明') });
  // The counter's warning: this person came before.
  await expectText(page.getByTestId('repeat-warning'), /已有 1 件/, 'the repeat warning');
  await shot('2-register-repeat-warning');
  await page.getByRole('button', { name: /登\s*记/ }).last().click();
  const number = await expectText(page.getByTestId('receipt-number'), /^\d{6}-\d{4}-\d{6,}$/, 'the receipt number');
  const queryCode = await expectText(page.getByTestId('receipt-code'), /^[0-9A-F]{8}$/, 'the query code');
  await shot('3-receipt');
  console.log(`CASE ${number}`);

  // 2. The township refers it up to the county.
  await openCase(number);
  await move('上报', (m) => m.getByLabel('上报理由').fill('涉及县级部门职责，镇级无法协调'));
  await expectText(page.getByTestId('holder'), /信访局/, 'the holder after the referral');
  await shot('4-referred-up');

  // 3. The bureau routes it to 住建局 from its inbox.
  await signIn('xfj.clerk');
  await page.goto(`${base}/workbench/#/inbox`);
  await page.getByTestId('inbox').getByRole('link', { name: number }).click();
  await page.getByTestId('case-state').waitFor();
  await move('分类转送', async (m) => {
    await choose('转送至', '住房和城乡建设局', '住房');
    await m.getByLabel('转送理由').fill('属住建部门职责');
  });
  await waitState(/转送待签收/);
  // A county leader takes personal charge (包案), by account.
  await move('领导包案', async (m) => {
    await m.getByLabel('包案领导').fill('张伟');
    await m.getByLabel('职务').fill('副县长');
    await m.getByLabel('领导账号（accounts/用户名，可选）').fill('accounts/zhang.wei');
    await choose('责任单位', '住房和城乡建设局', '住房');
    await m.getByLabel('责任人').fill('赵敏');
    await m.getByLabel('办结时限').fill(new Date(Date.now() + 20 * 86400e3).toISOString().slice(0, 10));
    await page.keyboard.press('Enter');
  });
  await shot('5-routed-and-led');

  // 4. The department signs for it, accepts and answers it.
  await signIn('zjj.handler');
  await page.goto(`${base}/workbench/#/inbox`);
  await expectText(page.getByTestId('inbox'), /待我签收/, 'the department inbox');
  await shot('6-department-inbox');
  await page.getByTestId('inbox').getByRole('link', { name: number }).click();
  await page.getByTestId('case-state').waitFor();
  await move('签收');
  await waitState(/已签收待受理/);
  await move('受理', (m) => m.getByLabel('受理告知内容').fill('您反映的路灯问题已受理，将在法定期限内答复。'));
  await waitState(/办理中/);
  const answer = '经核查，东云村村道路灯线路老化，已于本周更换灯具并恢复照明。';
  await move('答复', async (m) => {
    await choose('处理结果', '支持');
    await choose('答复形式', '信访处理意见书');
    await m.getByLabel('答复意见').fill(answer);
    await m.getByLabel('法律政策依据').fill('《信访工作条例》第三十二条');
  });
  await waitState(/已答复/);
  await shot('7-answered');

  // 5. The township sees the answer.
  await signIn('dayun.clerk');
  await openCase(number);
  await expectText(page.getByTestId('answer-text'), new RegExp(answer.slice(0, 10)), 'the answer at the township');
  await expectText(page.getByTestId('timeline'), /答复/, 'the timeline');
  await expectText(page.getByTestId('attachments'), /现场照片说明\.txt/, 'the attachment');
  await shot('8-township-sees-answer');
  // On a tablet, the same page.
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.waitForTimeout(500); // the menu folds away below 992 px
  await shot('9-tablet-case');
  await page.setViewportSize({ width: 1366, height: 768 });

  // 6. The leader sees the case he leads, and its card.
  await signIn('zhang.wei');
  await page.goto(`${base}/workbench/#/search`);
  await page.getByRole('link', { name: number }).click();
  await expectText(page.getByTestId('lead-card'), /副县长张伟/, 'the leader\'s card');
  await shot('10-leader-led-case');

  // 7. The petitioner looks the case up with the receipt: no sign-in.
  await page.evaluate(() => sessionStorage.clear());
  await page.goto(`${base}/workbench/#/progress`);
  await page.reload();
  await page.getByLabel('信访事项编号').fill(number);
  await page.getByLabel('查询码').fill('00000000' === queryCode ? '11111111' : '00000000');
  await page.getByRole('button', { name: /查\s*询/ }).click();
  await expectText(page.getByTestId('progress-error'), /不正确/, 'a wrong query code');
  await page.getByLabel('查询码').fill(queryCode.toLowerCase());
  await page.getByRole('button', { name: /查\s*询/ }).click();
  await expectText(page.getByTestId('progress-state'), /已答复/, 'the petitioner\'s view of the state');
  const shown = await page.getByTestId('progress').innerText();
  if (shown.includes('王五') || shown.includes(idNumber) || shown.includes('东云村')) fail(`the public progress shows the registration: ${shown}`);
  await shot('11-petitioner-progress');
  console.log(`ANSWER ${answer}`);
  if (consoleErrors.length) fail(`browser console errors: ${consoleErrors.join(' | ')}`);
} catch (e) {
  await shot('failure').catch(() => {});
  const html = await page.locator('.ant-modal').first().evaluate((e) => e.outerHTML).catch(() => '');
  if (html) writeFileSync(join(out, 'workbench-failure-modal.html'), html);
  console.error(e.stack || String(e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
