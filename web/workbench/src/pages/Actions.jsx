import { useMemo, useRef, useState } from 'react';
import { Alert, Button, DatePicker, Form, Input, InputNumber, Modal, Select, Space, Switch } from 'antd';
import { api, newRequestId, showFieldErrors } from '../api.js';
import { actions as actionNames, answerForms, contributionKinds, options, outcomes, ratings, statutoryChannels } from '../labels.js';
import { useDirectory } from '../directory.js';
import { zhError } from '../zh.js';

const text = (name, label, rows = 3) => ({ name, label, kind: 'text', rows });
const select = (name, label, values) => ({ name, label, kind: 'select', values });
const office = (name, label, kinds) => ({ name, label, kind: 'office', kinds });

const DEPARTMENTS = ['OFFICE_KIND_DEPARTMENT'];
const COUNTY = ['OFFICE_KIND_DEPARTMENT', 'OFFICE_KIND_TOWNSHIP', 'OFFICE_KIND_BUREAU'];

/** Each move: its path verb and the fields of its request (the API's names). */
export const moves = {
  ACTION_REFER_UP: { verb: 'referUp', fields: [text('reason', '上报理由')] },
  ACTION_ROUTE: { verb: 'route', fields: [office('toOffice', '转送至', DEPARTMENTS), text('reason', '转送理由'), { name: 'litigationRelated', label: '涉法涉诉', kind: 'switch' }] },
  ACTION_TRANSFER: { verb: 'transfer', fields: [office('toOffice', '转送至', COUNTY), text('reason', '转送理由')] },
  ACTION_SIGN_FOR: { verb: 'signFor', fields: [] },
  ACTION_SEND_BACK: { verb: 'sendBack', fields: [text('reason', '退回理由（不属本单位职责的依据）')] },
  ACTION_ACCEPT_RETURN: { verb: 'acceptReturn', fields: [text('note', '说明')] },
  ACTION_ACCEPT: { verb: 'accept', fields: [text('notice', '受理告知内容')] },
  ACTION_DECLINE: { verb: 'decline', fields: [select('channel', '应通过的法定途径', statutoryChannels), text('notice', '不予受理告知内容')] },
  ACTION_ASSIGN_DOWN: { verb: 'assignDown', fields: [office('toOffice', '交办至', ['OFFICE_KIND_TOWNSHIP']), text('instructions', '交办要求'), { name: 'reportDue', label: '办结报告期限', kind: 'date' }] },
  ACTION_REPORT: { verb: 'report', fields: [text('text', '办结报告', 6)] },
  ACTION_EXTEND: { verb: 'extend', fields: [{ name: 'days', label: '延长天数', kind: 'number' }, text('reason', '延期理由'), { name: 'approvedBy', label: '批准人', kind: 'input' }] },
  ACTION_ANSWER: { verb: 'answer', fields: [select('outcome', '处理结果', outcomes), select('form', '答复形式', answerForms), text('text', '答复意见', 8), text('legalBasis', '法律政策依据', 2)] },
  ACTION_EVALUATE: { verb: 'evaluate', fields: [select('rating', '信访人评价', ratings), text('comment', '评价意见')] },
  ACTION_REQUEST_REVIEW: { verb: 'requestReview', fields: [text('reason', '复查请求理由')] },
  ACTION_REVIEW: { verb: 'review', fields: [select('outcome', '复查结果', outcomes), text('text', '复查意见', 6), text('legalBasis', '依据', 2)] },
  ACTION_REQUEST_RE_REVIEW: { verb: 'requestReReview', fields: [text('reason', '复核请求理由')] },
  ACTION_RE_REVIEW: { verb: 'reReview', fields: [select('outcome', '复核结果', outcomes), text('text', '复核意见', 6), text('legalBasis', '依据', 2)] },
  ACTION_CLOSE: { verb: 'close', fields: [text('note', '办结说明')] },
  ACTION_ADD_CO_HANDLER: { verb: 'addCoHandler', fields: [office('office', '协办单位', DEPARTMENTS), text('reason', '理由')] },
  ACTION_CONTRIBUTE: { verb: 'contribute', fields: [select('kind', '类型', contributionKinds), text('text', '内容', 6)] },
  ACTION_RETURN_FOR_REWORK: { verb: 'returnForRework', fields: [text('reason', '退回重办理由')] },
  ACTION_SET_URGENCY: { verb: 'setUrgency', fields: [{ name: 'urgent', label: '紧急', kind: 'switch' }, text('reason', '理由')] },
  ACTION_TAKE_LEAD: {
    verb: 'takeLead',
    fields: [
      { name: 'leader', label: '包案领导', kind: 'input' },
      { name: 'leaderTitle', label: '职务', kind: 'input' },
      { name: 'leaderAccount', label: '领导账号（accounts/用户名，可选）', kind: 'input' },
      office('unit', '责任单位', COUNTY),
      { name: 'person', label: '责任人', kind: 'input' },
      { name: 'dueDate', label: '办结时限', kind: 'date' },
    ],
  },
  ACTION_RECORD_PROGRESS: { verb: 'recordProgress', fields: [text('steps', '工作步骤'), text('progress', '进展情况'), text('measures', '下步措施')] },
  ACTION_START_HEARING: { verb: 'startHearing', fields: [text('note', '听证说明')] },
  ACTION_END_HEARING: { verb: 'endHearing', fields: [text('note', '听证结果')] },
  ACTION_REOPEN: { verb: 'reopen', fields: [text('reason', '纠正理由')] },
};

/** One input of a move's form; Form.Item's props (id, value, onChange) go to the input. */
function Field({ f, ...control }) {
  const dir = useDirectory();
  const offices = useMemo(
    () => (f.kinds ? f.kinds.flatMap((k) => dir.ofKind(k)).map((o) => ({ value: o.name, label: o.displayName })) : []),
    [dir, f.kinds],
  );
  switch (f.kind) {
    case 'text':
      return <Input.TextArea rows={f.rows} {...control} />;
    case 'select':
      return <Select options={options(f.values)} {...control} />;
    case 'office':
      return <Select options={offices} showSearch optionFilterProp="label" {...control} />;
    case 'switch':
      return <Switch {...control} />;
    case 'number':
      return <InputNumber min={1} max={60} {...control} />;
    case 'date':
      return <DatePicker format="YYYY-MM-DD" {...control} />;
    default:
      return <Input {...control} />;
  }
}

/** The buttons of the moves the caller may make now, each opening its form. */
export default function ActionBar({ kase, onDone }) {
  const [open, setOpen] = useState(null);
  // The card records progress only on a led case (包案).
  // The API offers exactly the moves it will accept (one function decides both).
  const available = (kase.availableActions || []).filter((a) => moves[a]);
  if (!available.length) return <Alert type="info" showIcon title="当前没有您可以办理的操作" />;
  return (
    <>
      <Space wrap data-testid="actions">
        {available.map((a) => (
          <Button key={a} type={['ACTION_ANSWER', 'ACTION_SIGN_FOR', 'ACTION_ROUTE', 'ACTION_ACCEPT'].includes(a) ? 'primary' : 'default'} onClick={() => setOpen(a)}>
            {actionNames[a]}
          </Button>
        ))}
      </Space>
      {open && <MoveForm action={open} kase={kase} onClose={() => setOpen(null)} onDone={() => { setOpen(null); onDone(); }} />}
    </>
  );
}

function MoveForm({ action, kase, onClose, onDone }) {
  const [form] = Form.useForm();
  const move = moves[action];
  const requestId = useRef(newRequestId()); // one per opened form: a retry moves once
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState('');
  const submit = async () => {
    const v = form.getFieldsValue();
    const body = { etag: kase.etag, requestId: requestId.current };
    for (const f of move.fields) {
      let x = v[f.name];
      if (x === undefined || x === null) continue;
      if (f.kind === 'date') x = x.format('YYYY-MM-DD');
      body[f.name] = x;
    }
    setBusy(true);
    setProblem('');
    try {
      await api('POST', `/v1/cases/${kase.caseNumber}:${move.verb}`, body);
      onDone();
    } catch (e) {
      const rest = showFieldErrors(form, e);
      setProblem(e.fields?.length ? rest.join('；') : zhError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open title={`${actionNames[action]} · ${kase.caseNumber}`} onCancel={onClose} onOk={submit} okText="确定" cancelText="取消" confirmLoading={busy} destroyOnHidden width={640}>
      <Form form={form} layout="vertical" data-testid={`move-${move.verb}`}>
        {move.fields.map((f) => (
          <Form.Item key={f.name} label={f.label} name={f.name} valuePropName={f.kind === 'switch' ? 'checked' : 'value'}>
            <Field f={f} />
          </Form.Item>
        ))}
        {move.fields.length === 0 && <p>确认{actionNames[action]}本案？</p>}
        {problem && <Alert type="error" showIcon title={problem} data-testid="move-error" />}
      </Form>
    </Modal>
  );
}
