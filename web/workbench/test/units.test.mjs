// Unit tests of the workbench's pure pieces (node --test, no packages):
// how API field paths map to form fields, and the Chinese messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formPath } from '../src/api.js';
import { zhError, zhField } from '../src/zh.js';

test('formPath maps API field paths to form names', () => {
  const cases = [
    ['case.subject', 'case.', ['subject']],
    ['case.petitioners[0].id_number', 'case.', ['petitioners', 0, 'idNumber']],
    ['case.petitioners[12].display_name', 'case.', ['petitioners', 12, 'displayName']],
    ['to_office', '', ['toOffice']],
    ['case.receive_time', 'case.', ['receiveTime']],
    ['office.duties[1]', '', ['office', 'duties', 1]],
    ['weird field!', '', ['weird field!']],
  ];
  for (const [field, prefix, want] of cases) {
    assert.deepEqual(formPath(field, prefix), want, field);
  }
});

test('zhField translates the common messages and keeps the others', () => {
  const cases = [
    ['is required', '必填'],
    ['is required: one of CHANNEL_VISIT, CHANNEL_LETTER', '必填'],
    ['must be at most 200 characters, has 250', '不能超过 200 个字（现有 250 个）'],
    ['check digit does not match (GB 11643): please re-check the number', '校验码不符（GB 11643），请核对号码'],
    ['a group of 12 people names at most 5 representatives, not 7: 浙江省信访条例', '12 人的集体访代表不超过 5 名（现为 7 名）'],
    ['must be a department office, not 大云镇', '应选择县直部门，而不是 大云镇'],
    ['something the workbench does not know', 'something the workbench does not know'],
  ];
  for (const [en, zh] of cases) {
    assert.equal(zhField(en), zh, en);
  }
});

test('zhError uses the reason, else the message', () => {
  assert.equal(zhError({ reason: 'ETAG_MISMATCH', message: 'the case changed' }), '案件已被他人更新，请刷新后再办理');
  assert.equal(zhError({ reason: 'SOMETHING_NEW', message: 'as written' }), 'as written');
});
