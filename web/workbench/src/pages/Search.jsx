import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, DatePicker, Form, Input, Select, Space, Table, Tag } from 'antd';
import { api, officeId } from '../api.js';
import { channels, classes, fmtTime, options, states } from '../labels.js';
import { useDirectory } from '../directory.js';

/** The cases I may see, filtered; for a leader, the cases they lead (包案). */
export default function Search({ session }) {
  const dir = useDirectory();
  const [filter, setFilter] = useState({});
  const [tokens, setTokens] = useState(['']); // page tokens seen: back and forth
  const [page, setPage] = useState(0);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);

  const load = useCallback(async () => {
    setError(null);
    const q = new URLSearchParams({ pageSize: '20', view: 'CASE_VIEW_BASIC' });
    for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
    if (tokens[page]) q.set('pageToken', tokens[page]);
    try {
      const r = await api('GET', `/v1/cases?${q}`);
      setResult(r);
      if (r.nextPageToken) setTokens((t) => [...t.slice(0, page + 1), r.nextPageToken]);
    } catch (e) {
      setError(e);
    }
  }, [filter, page, tokens]);
  useEffect(() => {
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filter, page]);

  const apply = (v) => {
    setFilter({
      subjectContains: v.subjectContains || '',
      state: v.state || '',
      township: v.township || '',
      channel: v.channel || '',
      caseClass: v.caseClass || '',
      receiveTimeFrom: v.range?.[0]?.startOf('day').toISOString() || '',
      receiveTimeTo: v.range?.[1]?.endOf('day').toISOString() || '',
    });
    setTokens(['']);
    setPage(0);
  };
  const leader = session.account.role === 'leader';
  return (
    <Card title={leader ? '我包案的案件' : '案件查询'}>
      <Form layout="inline" onFinish={apply} style={{ marginBottom: 12, rowGap: 8 }}>
        <Form.Item name="subjectContains"><Input placeholder="事项关键词" allowClear /></Form.Item>
        <Form.Item name="state"><Select placeholder="状态" allowClear style={{ width: 140 }} options={options(states)} /></Form.Item>
        <Form.Item name="township">
          <Select placeholder="乡镇" allowClear style={{ width: 140 }} options={dir.ofKind('OFFICE_KIND_TOWNSHIP').map((o) => ({ value: officeId(o.name), label: o.displayName }))} />
        </Form.Item>
        <Form.Item name="channel"><Select placeholder="渠道" allowClear style={{ width: 110 }} options={options(channels)} /></Form.Item>
        <Form.Item name="caseClass"><Select placeholder="类别" allowClear style={{ width: 130 }} options={options(classes)} /></Form.Item>
        <Form.Item name="range"><DatePicker.RangePicker /></Form.Item>
        <Button type="primary" htmlType="submit">查询</Button>
      </Form>
      {error && <Alert type="error" showIcon title={error.message} style={{ marginBottom: 12 }} />}
      <Table
        rowKey="caseNumber"
        size="middle"
        loading={!result && !error}
        dataSource={result?.cases || []}
        pagination={false}
        columns={[
          { title: '编号', dataIndex: 'caseNumber', render: (n) => <a href={`#/cases/${n}`}>{n}</a> },
          { title: '事项', dataIndex: 'subject' },
          { title: '乡镇', dataIndex: 'township', render: (t) => dir.name(t), responsive: ['md'] },
          { title: '状态', dataIndex: 'state', render: (s, c) => <Space><Tag>{states[s] || s}</Tag>{c.repeat && <Tag color="orange">重复</Tag>}</Space> },
          { title: '承办', dataIndex: 'holderOffice', render: (o) => dir.name(o), responsive: ['lg'] },
          { title: '收到时间', dataIndex: 'receiveTime', render: fmtTime, responsive: ['md'] },
        ]}
      />
      <Space style={{ marginTop: 12 }}>
        <Button disabled={page === 0} onClick={() => setPage(page - 1)}>上一页</Button>
        <span>第 {page + 1} 页</span>
        <Button disabled={!result?.nextPageToken} onClick={() => setPage(page + 1)}>下一页</Button>
      </Space>
    </Card>
  );
}
