import { useCallback, useEffect, useMemo, useState } from 'react';
import { Alert, Button, Card, Input, Select, Space, Table, Tag, Tooltip } from 'antd';
import { api, officeId } from '../api.js';
import { clocks, fmtTime, options, states } from '../labels.js';
import { useDirectory } from '../directory.js';
import { go } from '../route.js';

const PAGE = 20;
const AT_RISK_MS = 3 * 24 * 3600 * 1000;

/** The running clock that ends first, or null. */
export function nextDeadline(c) {
  const running = (c.deadlines || []).filter((d) => !d.stopTime && !d.pauseTime);
  running.sort((a, b) => new Date(a.dueTime) - new Date(b.dueTime));
  return running[0] || null;
}

/** 超期 / 临期 / nothing for a deadline. */
export function deadlineTag(d, now = Date.now()) {
  if (!d) return null;
  const due = new Date(d.dueTime).getTime();
  if (d.overdue || due < now) return <Tag color="red">超期</Tag>;
  if (due - now < AT_RISK_MS) return <Tag color="orange">临期</Tag>;
  return null;
}

/** My office's cases: those it holds and those waiting for it to sign for, by deadline. */
export default function Inbox({ office }) {
  const dir = useDirectory();
  const [cases, setCases] = useState(null);
  const [error, setError] = useState(null);
  const [subjects, setSubjects] = useState({});
  const [state, setState] = useState('');
  const [page, setPage] = useState(1);

  const load = useCallback(async () => {
    setError(null);
    try {
      const all = [];
      let token = '';
      do {
        const r = await api('GET', `/v1/offices/${office}/queue?pageSize=100${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
        all.push(...(r.cases || []));
        token = r.nextPageToken;
      } while (token && all.length < 1000);
      setCases(all);
    } catch (e) {
      setError(e);
    }
  }, [office]);
  useEffect(() => {
    load();
  }, [load]);

  const rows = useMemo(() => {
    const list = (cases || []).filter((c) => !state || c.state === state);
    const due = (c) => {
      const d = nextDeadline(c);
      return d ? new Date(d.dueTime).getTime() : Infinity;
    };
    return list.sort((a, b) => (b.urgent ? 1 : 0) - (a.urgent ? 1 : 0) || due(a) - due(b));
  }, [cases, state]);
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const visible = rows.slice((page - 1) * PAGE, page * PAGE);

  // The subjects are the registration's (intake): fetched for the rows shown.
  useEffect(() => {
    const missing = visible.map((c) => c.caseNumber).filter((n) => !(n in subjects));
    if (!missing.length) return;
    Promise.all(missing.map((n) => api('GET', `/v1/cases/${n}?view=CASE_VIEW_BASIC`).then((c) => [n, c.subject], () => [n, ''])))
      .then((pairs) => setSubjects((s) => ({ ...s, ...Object.fromEntries(pairs) })));
  }, [visible, subjects]);

  // Keyboard paging: n / → next, p / ← previous (outside inputs).
  useEffect(() => {
    const on = (e) => {
      if (['INPUT', 'TEXTAREA'].includes(e.target.tagName)) return;
      if (e.key === 'n' || e.key === 'ArrowRight') setPage((p) => Math.min(p + 1, pages));
      if (e.key === 'p' || e.key === 'ArrowLeft') setPage((p) => Math.max(p - 1, 1));
    };
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
  }, [pages]);

  const columns = [
    {
      title: '编号',
      dataIndex: 'caseNumber',
      render: (n, c) => (
        <Space>
          <a href={`#/cases/${n}`}>{n}</a>
          {c.urgent && <Tag color="volcano">紧急</Tag>}
        </Space>
      ),
    },
    { title: '事项', key: 'subject', render: (_, c) => subjects[c.caseNumber] ?? '…' },
    { title: '乡镇', dataIndex: 'township', render: (t) => dir.name(t), responsive: ['md'] },
    {
      title: '状态',
      key: 'state',
      render: (_, c) => (
        <Space>
          <Tag>{states[c.state] || c.state}</Tag>
          {c.pendingOffice && officeId(c.pendingOffice) === office && <Tag color="blue">待我签收</Tag>}
        </Space>
      ),
    },
    {
      title: '最近期限',
      key: 'deadline',
      render: (_, c) => {
        const d = nextDeadline(c);
        if (!d) return '—';
        return (
          <Tooltip title={d.rule}>
            <Space>
              {deadlineTag(d)}
              <span>{clocks[d.kind] || d.kind}</span>
              <span>{fmtTime(d.dueTime)}</span>
            </Space>
          </Tooltip>
        );
      },
    },
  ];

  return (
    <Card
      title={`待办 · ${dir.name(office)}`}
      extra={
        <Space wrap>
          <Select style={{ width: 160 }} value={state} onChange={(v) => { setState(v); setPage(1); }} options={[{ value: '', label: '全部状态' }, ...options(states)]} />
          <Input.Search
            placeholder="输入编号直达案件"
            style={{ width: 220 }}
            onSearch={(v) => v.trim() && go(`cases/${v.trim()}`)}
            allowClear
          />
          <Button onClick={load}>刷新</Button>
        </Space>
      }
    >
      {error && <Alert type="error" showIcon title={error.message} style={{ marginBottom: 12 }} />}
      <Table
        rowKey="caseNumber"
        size="middle"
        loading={cases === null && !error}
        columns={columns}
        dataSource={visible}
        pagination={false}
        onRow={(c) => ({ onDoubleClick: () => go(`cases/${c.caseNumber}`) })}
        data-testid="inbox"
      />
      <Space style={{ marginTop: 12 }}>
        <Button disabled={page <= 1} onClick={() => setPage(page - 1)}>上一页 (p)</Button>
        <span>
          第 {page} / {pages} 页，共 {rows.length} 件
        </span>
        <Button disabled={page >= pages} onClick={() => setPage(page + 1)}>下一页 (n)</Button>
      </Space>
    </Card>
  );
}
