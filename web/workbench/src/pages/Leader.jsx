import { useEffect, useState } from 'react';
import { Alert, Card, Space, Table } from 'antd';
import dayjs from 'dayjs';
import { api, caseNumber } from '../api.js';
import { fmtDate, fmtTime } from '../labels.js';
import { useDirectory } from '../directory.js';

/** A leader's reception days (接访日) and appointments (约访) in the coming weeks. */
export default function Leader({ session }) {
  const dir = useDirectory();
  const name = session.account.displayName;
  const [receptions, setReceptions] = useState(null);
  const [appointments, setAppointments] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const from = dayjs().format('YYYY-MM-DD');
    const to = dayjs().add(60, 'day').format('YYYY-MM-DD');
    api('GET', `/v1/receptions?fromDate=${from}&toDate=${to}`)
      .then((r) => setReceptions((r.receptions || []).filter((x) => !name || x.leader === name)), setError);
    Promise.all([0, 1].map((m) => api('GET', `/v1/appointments?month=${dayjs().add(m, 'month').format('YYYY-MM')}${name ? `&leader=${encodeURIComponent(name)}` : ''}`)))
      .then((rs) => setAppointments(rs.flatMap((r) => r.appointments || [])), setError);
  }, [name]);
  return (
    <Space orientation="vertical" size="middle" style={{ width: '100%' }}>
      {error && <Alert type="error" showIcon title={error.message} />}
      <Card title={`我的接访日${name ? ` · ${name}` : ''}`} extra={<a href="#/search">我包案的案件</a>}>
        <Table
          rowKey="name"
          size="small"
          loading={receptions === null && !error}
          dataSource={receptions || []}
          pagination={false}
          locale={{ emptyText: '近两个月没有安排接访日' }}
          columns={[
            { title: '日期', dataIndex: 'date', render: (d) => d },
            { title: '主题', dataIndex: 'title' },
            { title: '地点', dataIndex: 'place' },
            { title: '机关', dataIndex: 'office', render: (o) => dir.name(o) },
            { title: '已预约', key: 'b', render: (_, r) => `${r.booked} / ${r.slots}` },
          ]}
        />
      </Card>
      <Card title="我的约访">
        <Table
          rowKey="name"
          size="small"
          loading={appointments === null && !error}
          dataSource={appointments || []}
          pagination={false}
          locale={{ emptyText: '没有约访' }}
          columns={[
            { title: '时间', dataIndex: 'startTime', render: fmtTime },
            { title: '案件', dataIndex: 'case', render: (c) => <a href={`#/cases/${caseNumber(c)}`}>{caseNumber(c)}</a> },
            { title: '地点', dataIndex: 'place' },
            { title: '机关', dataIndex: 'office', render: (o) => dir.name(o) },
          ]}
        />
      </Card>
      <p style={{ color: '#888' }}>统计数据见左侧“统计”（{fmtDate(new Date())}）。</p>
    </Space>
  );
}
