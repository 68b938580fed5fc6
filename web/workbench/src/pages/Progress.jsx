import { useState } from 'react';
import { Alert, Button, Card, Descriptions, Form, Input, Tag, Timeline } from 'antd';
import { api } from '../api.js';
import { actions, fmtTime, states } from '../labels.js';
import { zhError } from '../zh.js';

/** A petitioner's progress lookup by case number and the receipt's query code; no sign-in. */
export default function Progress() {
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (v) => {
    setBusy(true);
    setError('');
    setResult(null);
    try {
      setResult(await api('POST', `/v1/cases/${encodeURIComponent(v.number.trim())}:progress`, { queryCode: v.code.trim() }));
    } catch (e) {
      setError(e.status === 404 ? '编号或查询码不正确' : e.status === 429 ? '查询码错误次数过多，请 15 分钟后再试' : e.status === 400 ? '请核对编号和查询码的格式' : zhError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="wb-login">
      <Card title="信访事项办理进度查询" style={{ width: 560 }} extra={<a href="#/">工作人员登录</a>}>
        <Form layout="vertical" onFinish={submit} requiredMark={false}>
          <Form.Item label="信访事项编号" name="number" rules={[{ required: true, message: '请输入受理凭证上的编号' }]}>
            <Input placeholder="如 330421-2026-000123" />
          </Form.Item>
          <Form.Item label="查询码" name="code" rules={[{ required: true, message: '请输入受理凭证上的查询码' }]}>
            <Input placeholder="8 位字母数字" maxLength={8} />
          </Form.Item>
          {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 16 }} data-testid="progress-error" />}
          <Button type="primary" htmlType="submit" block loading={busy}>
            查询
          </Button>
        </Form>
        {result && (
          <div style={{ marginTop: 24 }} data-testid="progress">
            <Descriptions size="small" column={1} bordered>
              <Descriptions.Item label="编号">{result.caseNumber}</Descriptions.Item>
              <Descriptions.Item label="状态"><Tag color="blue" data-testid="progress-state">{states[result.state] || result.state}</Tag></Descriptions.Item>
              <Descriptions.Item label="收到时间">{fmtTime(result.receiveTime)}</Descriptions.Item>
              <Descriptions.Item label="当前办理机关">{result.holder}</Descriptions.Item>
            </Descriptions>
            <Timeline
              style={{ marginTop: 16 }}
              items={(result.steps || []).map((s, i) => ({ key: i, title: fmtTime(s.time), content: `${actions[s.action] || s.action}　${s.office}` }))}
            />
          </div>
        )}
      </Card>
    </div>
  );
}
