import { useMemo, useRef, useState } from 'react';
import { Alert, AutoComplete, Button, Card, Checkbox, Col, DatePicker, Form, Input, InputNumber, List, Row, Select, Space, Switch, Tag, Upload, App as AntApp } from 'antd';
import dayjs from 'dayjs';
import { api, caseNumber, newRequestId, officeId, showFieldErrors } from '../api.js';
import { channels, classes, fmtDate, options, petitionerKinds, states, topics } from '../labels.js';
import { useDirectory } from '../directory.js';
import { zhError, zhField } from '../zh.js';
import { go } from '../route.js';

const MAX_FILE = 10 << 20;

/** Reads a File as base64, the JSON form of protobuf bytes. */
function base64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(',', 2)[1] || '');
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

/** Registration at the counter or from a letter: one form, the API's messages beside each field. */
export default function Register({ session }) {
  const dir = useDirectory();
  const { message } = AntApp.useApp();
  const [form] = Form.useForm();
  const own = officeId(session.account.office);
  const ownIsTownship = dir.ofKind('OFFICE_KIND_TOWNSHIP').some((o) => officeId(o.name) === own);
  // One key per filled form: a double click or a retry after a timeout registers once.
  const requestId = useRef(newRequestId());
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState([]);
  const [files, setFiles] = useState([]);
  const [repeats, setRepeats] = useState({});
  const cls = Form.useWatch('caseClass', form);
  const anonymous = Form.useWatch('anonymous', form);

  const townships = useMemo(() => dir.ofKind('OFFICE_KIND_TOWNSHIP').map((o) => ({ value: officeId(o.name), label: o.displayName })), [dir]);
  const units = useMemo(() => dir.offices.filter((o) => o.kind !== 'OFFICE_KIND_PREFECTURE').map((o) => ({ value: o.name, label: o.displayName })), [dir]);

  // The counter's warning: earlier cases of the same person, while typing.
  const timers = useRef({});
  const lookupSoon = (index) => {
    clearTimeout(timers.current[index]);
    timers.current[index] = setTimeout(() => lookup(index), 300);
  };
  // One page of earlier cases at a time (a long-term petitioner may have
  // hundreds); repeatOf is what registering now links to, by the server's rule.
  const lookup = async (index, more) => {
    const p = form.getFieldValue(['petitioners', index]) || {};
    const id = (p.idNumber || '').trim();
    const phone = (p.phone || '').trim();
    if (id.length !== 18 && phone.length < 11) {
      setRepeats((r) => ({ ...r, [index]: null }));
      return;
    }
    try {
      const r = await api('POST', '/v1/cases:findRepeats', {
        idNumber: id.length === 18 ? id : '',
        phone: phone.length >= 11 ? phone : '',
        township: form.getFieldValue('township') || '',
        caseClass: form.getFieldValue('caseClass') || 'CASE_CLASS_UNSPECIFIED',
        topic: form.getFieldValue('topic') || '',
        pageSize: 10,
        pageToken: more?.next || '',
      });
      setRepeats((prev) => ({
        ...prev,
        [index]: {
          matches: [...(more?.matches || []), ...(r.matches || [])],
          next: r.nextPageToken || '',
          repeatOf: more ? more.repeatOf : r.repeatOf || '',
        },
      }));
    } catch (e) {
      if (e.fields?.length) form.setFields(e.fields.map((f) => ({ name: ['petitioners', index, f.field === 'phone' ? 'phone' : 'idNumber'], errors: [zhField(f.description)] })));
    }
  };

  const submit = async (v) => {
    setBusy(true);
    setProblems([]);
    const body = {
      channel: v.channel,
      receiveTime: v.receiveTime ? v.receiveTime.toISOString() : undefined,
      township: v.township,
      caseClass: v.caseClass,
      topic: v.topic || '',
      subject: v.subject || '',
      content: v.content || '',
      anonymous: !!v.anonymous,
      headCount: v.headCount || 0,
      accusedOffice: v.caseClass === 'CASE_CLASS_ACCUSATION' ? v.accusedOffice || '' : '',
      petitioners: v.anonymous ? [] : (v.petitioners || []).map((p) => ({
        kind: p.kind || 'PETITIONER_KIND_PERSON',
        displayName: p.displayName || '',
        idNumber: (p.idNumber || '').trim(),
        phone: (p.phone || '').trim(),
        representative: !!p.representative,
      })),
    };
    let created;
    try {
      created = await api('POST', '/v1/cases', body, { idempotencyKey: requestId.current });
    } catch (e) {
      const rest = showFieldErrors(form, e, 'case.');
      setProblems(e.fields?.length ? rest : [zhError(e)]);
      setBusy(false);
      return;
    }
    const number = created.caseNumber;
    const failed = [];
    for (const f of files) {
      try {
        await api('POST', `/v1/cases/${number}/attachments`, {
          attachment: { filename: f.name, mediaType: f.type || 'application/octet-stream' },
          content: await base64(f),
          requestId: `${requestId.current}-${f.uid}`,
        });
      } catch (e) {
        failed.push(`${f.name}: ${e.message}`);
      }
    }
    if (failed.length) message.warning(`案件已登记，但有附件未上传：${failed.join('；')}`);
    requestId.current = newRequestId();
    setBusy(false);
    go(`receipt/${number}`);
  };

  return (
    <Card title="信访事项登记">
      <Form
        form={form}
        layout="vertical"
        onFinish={submit}
        initialValues={{
          channel: 'CHANNEL_VISIT',
          caseClass: 'CASE_CLASS_CLAIM',
          receiveTime: dayjs(),
          township: ownIsTownship ? own : undefined,
          petitioners: [{ kind: 'PETITIONER_KIND_PERSON' }],
        }}
        scrollToFirstError
      >
        <Row gutter={16}>
          <Col xs={24} md={8}>
            <Form.Item label="来源渠道" name="channel">
              <Select options={options(channels)} />
            </Form.Item>
          </Col>
          <Col xs={24} md={8}>
            <Form.Item label="收到时间" name="receiveTime" extra="来信可填收信时间（可早于登记时间）">
              <DatePicker showTime style={{ width: '100%' }} format="YYYY-MM-DD HH:mm" />
            </Form.Item>
          </Col>
          <Col xs={24} md={8}>
            <Form.Item label="所涉乡镇（街道）" name="township">
              <Select options={townships} showSearch optionFilterProp="label" placeholder="选择乡镇（街道）" />
            </Form.Item>
          </Col>
          <Col xs={24} md={8}>
            <Form.Item label="信访类别" name="caseClass">
              <Select options={options(classes)} />
            </Form.Item>
          </Col>
          <Col xs={24} md={8}>
            <Form.Item label="事项分类" name="topic">
              <AutoComplete options={topics.map((t) => ({ value: t }))} placeholder="如 劳动社保/欠薪" filterOption />
            </Form.Item>
          </Col>
          {cls === 'CASE_CLASS_ACCUSATION' && (
            <Col xs={24} md={8}>
              <Form.Item label="被检举控告单位" name="accusedOffice" extra="检举人身份不会向被检举单位显示">
                <Select options={units} showSearch optionFilterProp="label" allowClear />
              </Form.Item>
            </Col>
          )}
          <Col span={24}>
            <Form.Item label="事项标题" name="subject">
              <Input maxLength={200} showCount placeholder="一句话概括诉求" />
            </Form.Item>
          </Col>
          <Col span={24}>
            <Form.Item label="诉求内容" name="content">
              <Input.TextArea rows={6} placeholder="事情经过、诉求和理由" />
            </Form.Item>
          </Col>
          <Col xs={12} md={6}>
            <Form.Item label="匿名" name="anonymous" valuePropName="checked">
              <Switch />
            </Form.Item>
          </Col>
          <Col xs={12} md={6}>
            <Form.Item label="人数" name="headCount" extra="集体访填写总人数">
              <InputNumber min={0} style={{ width: '100%' }} />
            </Form.Item>
          </Col>
        </Row>

        {!anonymous && (
          <Form.List name="petitioners">
            {(fields, { add, remove }) => (
              <Card size="small" title="信访人" style={{ marginBottom: 16 }} extra={<Button onClick={() => add({ kind: 'PETITIONER_KIND_PERSON' })}>添加信访人</Button>}>
                {fields.map(({ key, name }) => (
                  <div key={key} style={{ borderBottom: '1px dashed #eee', marginBottom: 8 }}>
                    <Row gutter={12}>
                      <Col xs={24} md={4}>
                        <Form.Item label="类型" name={[name, 'kind']}>
                          <Select options={options(petitionerKinds)} />
                        </Form.Item>
                      </Col>
                      <Col xs={24} md={5}>
                        <Form.Item label="姓名（名称）" name={[name, 'displayName']}>
                          <Input />
                        </Form.Item>
                      </Col>
                      <Col xs={24} md={6}>
                        <Form.Item label="公民身份号码" name={[name, 'idNumber']}>
                          <Input maxLength={18} onChange={() => lookupSoon(name)} data-testid={`id-number-${name}`} />
                        </Form.Item>
                      </Col>
                      <Col xs={24} md={5}>
                        <Form.Item label="联系电话" name={[name, 'phone']}>
                          <Input onBlur={() => lookupSoon(name)} />
                        </Form.Item>
                      </Col>
                      <Col xs={12} md={2}>
                        <Form.Item label="代表" name={[name, 'representative']} valuePropName="checked">
                          <Checkbox />
                        </Form.Item>
                      </Col>
                      <Col xs={12} md={2}>
                        <Form.Item label=" ">
                          <Button danger onClick={() => remove(name)} disabled={fields.length === 1}>
                            删除
                          </Button>
                        </Form.Item>
                      </Col>
                    </Row>
                    {repeats[name]?.matches.length > 0 && (
                      <Alert
                        type="warning"
                        showIcon
                        data-testid="repeat-warning"
                        title={`此人近期已有${repeats[name].next ? '不少于 ' : ' '}${repeats[name].matches.length} 件信访事项`}
                        description={
                          <>
                            {repeats[name].repeatOf && (
                              <p data-testid="repeat-of">
                                登记后将标记为 <a href={`#/cases/${caseNumber(repeats[name].repeatOf)}`}>{caseNumber(repeats[name].repeatOf)}</a> 的重复信访
                              </p>
                            )}
                            <List
                              size="small"
                              dataSource={repeats[name].matches}
                              renderItem={(m) => (
                                <List.Item>
                                  <Space wrap>
                                    <a href={`#/cases/${caseNumber(m.case)}`}>{caseNumber(m.case)}</a>
                                    <span>{m.subject}</span>
                                    <Tag>{states[m.state] || m.state}</Tag>
                                    <span>{fmtDate(m.receiveTime)}</span>
                                    {m.sameMatter && <Tag color="orange">同一事项</Tag>}
                                    {m.final && <Tag color="red">已三级终结</Tag>}
                                  </Space>
                                </List.Item>
                              )}
                            />
                            {repeats[name].next && (
                              <Button size="small" onClick={() => lookup(name, repeats[name])}>
                                更多
                              </Button>
                            )}
                          </>
                        }
                        style={{ marginBottom: 12 }}
                      />
                    )}
                  </div>
                ))}
              </Card>
            )}
          </Form.List>
        )}

        <Form.Item label="附件" extra="每个文件不超过 10 MB；登记后上传">
          <Upload
            multiple
            fileList={files}
            beforeUpload={(f) => {
              if (f.size > MAX_FILE) {
                message.error(`${f.name} 超过 10 MB`);
                return Upload.LIST_IGNORE;
              }
              setFiles((fs) => [...fs, f]);
              return false;
            }}
            onRemove={(f) => setFiles((fs) => fs.filter((x) => x.uid !== f.uid))}
          >
            <Button>选择文件</Button>
          </Upload>
        </Form.Item>

        {problems.length > 0 && (
          <Alert type="error" showIcon title="登记未成功" description={problems.join('；')} style={{ marginBottom: 16 }} data-testid="register-error" />
        )}
        <Button type="primary" htmlType="submit" loading={busy} size="large">
          登记
        </Button>
      </Form>
    </Card>
  );
}
