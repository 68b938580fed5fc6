import { useCallback, useEffect, useMemo, useState } from 'react';
import { Button, Layout, Menu, Result, Spin } from 'antd';
import { api, clearSession, officeId, session } from './api.js';
import { roles } from './labels.js';
import { DirectoryContext } from './directory.js';
import { go, useRoute } from './route.js';
import Login from './pages/Login.jsx';
import Register from './pages/Register.jsx';
import Receipt from './pages/Receipt.jsx';
import Inbox from './pages/Inbox.jsx';
import CasePage from './pages/CasePage.jsx';
import Search from './pages/Search.jsx';
import Leader from './pages/Leader.jsx';
import Progress from './pages/Progress.jsx';

function useSession() {
  const [s, setS] = useState(session());
  useEffect(() => {
    const on = () => setS(session());
    window.addEventListener('tongban:session', on);
    return () => window.removeEventListener('tongban:session', on);
  }, []);
  return [s, () => setS(session())];
}

export default function App() {
  const [s, refresh] = useSession();
  const route = useRoute();
  const [offices, setOffices] = useState(null);
  const [error, setError] = useState(null);

  const loadOffices = useCallback(() => {
    api('GET', '/v1/offices')
      .then((r) => setOffices(r.offices || []))
      .catch((e) => setError(e));
  }, []);
  useEffect(() => {
    if (s) loadOffices();
  }, [s, loadOffices]);

  const directory = useMemo(() => {
    const byId = new Map((offices || []).map((o) => [officeId(o.name), o]));
    return {
      offices: offices || [],
      name: (nameOrId) => byId.get(officeId(nameOrId))?.displayName || officeId(nameOrId),
      ofKind: (kind) => (offices || []).filter((o) => o.kind === kind && !o.closed),
    };
  }, [offices]);

  if (route[0] === 'progress') return <Progress />; // the petitioner's page: no sign-in
  if (!s) return <Login onSignedIn={refresh} />;
  if (error) {
    return <Result status="error" title="无法读取机构目录" subTitle={error.message} extra={<Button onClick={() => { setError(null); loadOffices(); }}>重试</Button>} />;
  }
  if (!offices) return <Spin fullscreen tip="加载中" />;

  const role = s.account.role;
  const office = officeId(s.account.office);
  const registers = ['clerk', 'handler', 'admin'].includes(role);
  const items = [
    registers && { key: 'register', label: '登记' },
    role !== 'leader' && { key: 'inbox', label: '待办' },
    { key: 'search', label: role === 'leader' ? '我包案的案件' : '案件查询' },
    role === 'leader' && { key: 'leader', label: '接访与约访' },
    { key: 'dashboard', label: '统计' },
  ].filter(Boolean);
  const page = route[0] || (registers ? 'register' : role === 'leader' ? 'leader' : 'inbox');

  let content;
  switch (page) {
    case 'register':
      content = <Register session={s} />;
      break;
    case 'receipt':
      content = <Receipt number={route[1]} />;
      break;
    case 'inbox':
      content = <Inbox office={office} />;
      break;
    case 'cases':
      content = <CasePage key={route[1]} number={route[1]} session={s} />;
      break;
    case 'search':
      content = <Search session={s} />;
      break;
    case 'leader':
      content = <Leader session={s} />;
      break;
    default:
      content = <Result status="404" title="没有这个页面" extra={<Button onClick={() => go('')}>回到首页</Button>} />;
  }
  return (
    <DirectoryContext.Provider value={directory}>
      <Layout style={{ minHeight: '100vh' }}>
        <Layout.Header className="wb-header wb-noprint">
          <h1>通办 · 信访工作台</h1>
          <span className="who" data-testid="who">
            {directory.name(office)} · {roles[role] || role} · {s.account.displayName || s.account.name.replace(/^accounts\//, '')}
          </span>
          <Button size="small" onClick={() => { clearSession(); refresh(); }}>退出</Button>
        </Layout.Header>
        <Layout>
          <Layout.Sider breakpoint="lg" collapsedWidth={0} theme="light" className="wb-noprint">
            <Menu
              mode="inline"
              selectedKeys={[page === 'cases' || page === 'receipt' ? '' : page]}
              items={items}
              onClick={({ key }) => {
                if (key === 'dashboard') {
                  // The dashboard takes the token in the fragment, which never reaches a server log.
                  window.open(`/dashboard/#token=${encodeURIComponent(s.token)}`, '_blank', 'noopener');
                } else go(key);
              }}
            />
          </Layout.Sider>
          <Layout.Content className="wb-content">{content}</Layout.Content>
        </Layout>
      </Layout>
    </DirectoryContext.Provider>
  );
}
