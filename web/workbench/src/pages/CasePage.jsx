import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Col, Descriptions, Empty, Row, Space, Spin, Table, Tag, Timeline } from 'antd';
import { api, caseNumber, download, officeId } from '../api.js';
import { actions, answerForms, channels, classes, clocks, fmtDate, fmtTime, outcomes, petitionerKinds, ratings, states } from '../labels.js';
import { useDirectory } from '../directory.js';
import ActionBar from './Actions.jsx';
import { deadlineTag } from './Inbox.jsx';

/** A file size as 512 B, 3.4 KB or 1.2 MB. */
const size = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`);

/** One case: the registration (intake), its state, deadlines and history (assignment), and the moves I may make. */
export default function CasePage({ number }) {
  const dir = useDirectory();
  const [reg, setReg] = useState(null);
  const [kase, setKase] = useState(null);
  const [entries, setEntries] = useState([]);
  const [files, setFiles] = useState([]);
  const [error, setError] = useState(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const [r, h, a] = await Promise.all([
        api('GET', `/v1/cases/${encodeURIComponent(number)}`),
        api('GET', `/v1/cases/${encodeURIComponent(number)}/history?pageSize=500`),
        api('GET', `/v1/cases/${encodeURIComponent(number)}/attachments`).catch(() => ({ attachments: [] })),
      ]);
      setReg(r);
      setFiles(a.attachments || []);
      setKase(h.case);
      setEntries(h.entries || []);
    } catch (e) {
      setError(e);
    }
  }, [number]);
  useEffect(() => {
    load();
  }, [load]);

  if (error) {
    return <Alert type="error" showIcon title={error.status === 404 ? `没有案件 ${number}，或您无权查看` : error.message} />;
  }
  if (!reg || !kase) return <Spin />;
  const answer = kase.answer;
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      <Card
        title={
          <Space wrap>
            <span>案件 {kase.caseNumber}</span>
            <Tag color="blue" data-testid="case-state">{states[kase.state] || kase.state}</Tag>
            {kase.urgent && <Tag color="volcano">紧急</Tag>}
            {reg.repeat && <Tag color="orange">重复信访{reg.repeatOf ? `（首件 ${caseNumber(reg.repeatOf)}）` : ''}</Tag>}
            {reg.repeatOfFinal && <Tag color="red">已三级终结事项</Tag>}
          </Space>
        }
        extra={<Button onClick={load}>刷新</Button>}
      >
        <Descriptions size="small" column={{ xs: 1, md: 2, lg: 3 }} bordered>
          <Descriptions.Item label="事项">{reg.subject}</Descriptions.Item>
          <Descriptions.Item label="信访类别">{classes[reg.caseClass]}</Descriptions.Item>
          <Descriptions.Item label="事项分类">{reg.topic || '—'}</Descriptions.Item>
          <Descriptions.Item label="来源渠道">{channels[reg.channel]}</Descriptions.Item>
          <Descriptions.Item label="收到时间">{fmtTime(reg.receiveTime)}</Descriptions.Item>
          <Descriptions.Item label="所涉乡镇">{dir.name(reg.township)}</Descriptions.Item>
          <Descriptions.Item label="登记机关">{dir.name(reg.registeredBy)}</Descriptions.Item>
          <Descriptions.Item label="当前承办">
            <span data-testid="holder">{dir.name(kase.holderOffice)}</span>
            {kase.pendingOffice && <span>（待 {dir.name(kase.pendingOffice)} 签收）</span>}
          </Descriptions.Item>
          <Descriptions.Item label="人数">{reg.headCount}{reg.group ? '（集体访）' : ''}</Descriptions.Item>
          <Descriptions.Item label="诉求内容" span={3}>
            <div style={{ whiteSpace: 'pre-wrap' }}>{reg.content}</div>
          </Descriptions.Item>
        </Descriptions>
      </Card>

      <Card title="可办理的操作" size="small">
        <ActionBar kase={kase} onDone={load} />
      </Card>

      <Row gutter={16}>
        <Col xs={24} lg={12}>
          <Card title="信访人" size="small" extra={<span style={{ color: '#888' }}>非登记机关看到的是脱敏信息</span>}>
            {reg.anonymous ? (
              <Empty description="匿名信访" />
            ) : (
              <Table
                size="small"
                rowKey={(_, i) => i}
                pagination={false}
                dataSource={reg.petitioners || []}
                locale={{ emptyText: '不向本机关显示（检举控告人身份保护）' }}
                columns={[
                  { title: '姓名', dataIndex: 'displayName' },
                  { title: '类型', dataIndex: 'kind', render: (k) => petitionerKinds[k] || '公民' },
                  { title: '身份号码', dataIndex: 'idNumber' },
                  { title: '电话', dataIndex: 'phone' },
                  { title: '代表', dataIndex: 'representative', render: (r) => (r ? '是' : '') },
                ]}
              />
            )}
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card title="期限" size="small">
            <Table
              size="small"
              rowKey={(d) => d.kind + d.startTime}
              pagination={false}
              dataSource={kase.deadlines || []}
              locale={{ emptyText: '没有计时中的期限' }}
              columns={[
                { title: '期限', dataIndex: 'kind', render: (k) => clocks[k] || k },
                { title: '责任机关', dataIndex: 'office', render: (o) => dir.name(o) },
                { title: '到期', dataIndex: 'dueTime', render: (t, d) => <Space>{!d.stopTime && deadlineTag(d)}{fmtTime(t)}</Space> },
                { title: '依据', dataIndex: 'rule' },
                { title: '状态', key: 's', render: (_, d) => (d.stopTime ? `已完成 ${fmtTime(d.stopTime)}` : d.pauseTime ? '暂停（听证）' : '计时中') },
              ]}
            />
          </Card>
        </Col>
      </Row>

      {files.length > 0 && (
        <Card title="附件" size="small" data-testid="attachments">
          {files.map((f) => (
            <p key={f.name}>
              <a onClick={() => download(`/v1/${f.name}:download`, f.filename).catch((e) => setError(e))}>{f.filename}</a>
              <span style={{ color: '#888' }}>　{size(Number(f.sizeBytes))} · {dir.name(f.createdBy)} · {fmtTime(f.createTime)}</span>
            </p>
          ))}
        </Card>
      )}

      {(answer || kase.evaluation) && (
        <Card title="答复与评价" size="small" data-testid="answer">
          {answer && (
            <Descriptions size="small" column={1} bordered>
              <Descriptions.Item label="答复机关">{dir.name(answer.office)}</Descriptions.Item>
              <Descriptions.Item label="处理结果">{outcomes[answer.outcome] || answer.outcome}</Descriptions.Item>
              <Descriptions.Item label="答复形式">{answerForms[answer.form] || '信访处理意见书'}</Descriptions.Item>
              <Descriptions.Item label="答复时间">{fmtTime(answer.answerTime)}</Descriptions.Item>
              <Descriptions.Item label="答复意见">
                <div style={{ whiteSpace: 'pre-wrap' }} data-testid="answer-text">{answer.text}</div>
              </Descriptions.Item>
              {answer.legalBasis && <Descriptions.Item label="依据">{answer.legalBasis}</Descriptions.Item>}
            </Descriptions>
          )}
          {kase.evaluation && <p style={{ marginTop: 8 }}>信访人评价：{ratings[kase.evaluation.rating]} {kase.evaluation.comment}</p>}
        </Card>
      )}

      {kase.lead && (
        <Card title="一案一卡（领导包案）" size="small" data-testid="lead-card">
          <Descriptions size="small" column={{ xs: 1, md: 3 }}>
            <Descriptions.Item label="包案领导">{kase.lead.leaderTitle}{kase.lead.leader}</Descriptions.Item>
            <Descriptions.Item label="责任单位">{dir.name(kase.lead.unit)}</Descriptions.Item>
            <Descriptions.Item label="责任人">{kase.lead.person}</Descriptions.Item>
            <Descriptions.Item label="办结时限">{fmtDate(kase.lead.dueDate)}</Descriptions.Item>
          </Descriptions>
          {(kase.progress || []).map((p, i) => (
            <p key={i}>
              {fmtTime(p.recordTime)} {dir.name(p.office)}：{p.steps}；{p.progress}；{p.measures}
            </p>
          ))}
        </Card>
      )}

      <Card title="办理过程" size="small">
        <Timeline
          data-testid="timeline"
          items={entries.map((e) => ({
            key: e.sequence,
            color: e.action === 'ACTION_ANSWER' ? 'green' : 'blue',
            title: fmtTime(e.time),
            content: (
              <div>
                <strong>{actions[e.action] || e.action}</strong>　{dir.name(e.actorOffice)}
                {e.toOffice && officeId(e.toOffice) !== officeId(e.fromOffice) && <span> → {dir.name(e.toOffice)}</span>}
                {e.targetOffice && <span>（{dir.name(e.targetOffice)}）</span>}
                <span style={{ color: '#888' }}>　{states[e.toState]}</span>
                {e.note && <div style={{ color: '#555', whiteSpace: 'pre-wrap' }}>{e.note}</div>}
              </div>
            ),
          }))}
        />
      </Card>
    </Space>
  );
}
