import { useEffect, useState } from 'react';
import { Alert, Button, Space, Spin } from 'antd';
import { api, officeId } from '../api.js';
import { channels, classes, fmtTime } from '../labels.js';
import { useDirectory } from '../directory.js';
import { go } from '../route.js';

/** The printable receipt (受理凭证) of a case just registered, with its query code. */
export default function Receipt({ number }) {
  const dir = useDirectory();
  const [c, setC] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('GET', `/v1/cases/${encodeURIComponent(number)}?view=CASE_VIEW_BASIC`).then(setC, setError);
  }, [number]);
  if (error) return <Alert type="error" showIcon title={error.message} />;
  if (!c) return <Spin />;
  return (
    <div>
      <Space className="wb-noprint" style={{ marginBottom: 16 }}>
        <Button type="primary" onClick={() => window.print()}>打印受理凭证</Button>
        <Button onClick={() => go(`cases/${number}`)}>查看案件</Button>
        <Button onClick={() => go('register')}>继续登记</Button>
      </Space>
      <div className="wb-receipt" data-testid="receipt">
        <h2>信访事项受理凭证</h2>
        <p>
          信访事项编号：<strong data-testid="receipt-number">{c.caseNumber}</strong>
        </p>
        <p>
          查询码：<span className="code" data-testid="receipt-code">{c.queryCode || '（仅登记机关可见）'}</span>
        </p>
        <p>登记机关：{dir.name(officeId(c.registeredBy))}</p>
        <p>收到时间：{fmtTime(c.receiveTime)}</p>
        <p>登记时间：{fmtTime(c.createTime)}</p>
        <p>来源渠道：{channels[c.channel] || c.channel}　信访类别：{classes[c.caseClass] || c.caseClass}</p>
        <p>事项：{c.subject}</p>
        <p style={{ marginTop: 24, fontSize: 13, color: '#555' }}>
          您的信访事项已登记。依照《信访工作条例》，有权处理的机关将在法定期限内告知是否受理，受理后依法办理并书面答复。
          请妥善保管本凭证，凭信访事项编号和查询码查询办理进展。
        </p>
        <p style={{ textAlign: 'right', marginTop: 32 }}>{dir.name(officeId(c.registeredBy))}（盖章）</p>
      </div>
    </div>
  );
}
