import { useState } from 'react';
import { Alert, Button, Card, Form, Input } from 'antd';
import { api, saveSession } from '../api.js';

/** Sign-in with an account's username and password. */
export default function Login({ onSignedIn }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (v) => {
    setBusy(true);
    setError(null);
    try {
      const r = await api('POST', '/v1/sessions', { username: v.username.trim(), password: v.password });
      saveSession({ token: r.accessToken, expireTime: r.expireTime, account: r.account });
      onSignedIn();
    } catch (e) {
      setError(e.status === 401 ? '用户名或密码不正确' : e.status === 429 ? '登录失败次数过多，请稍后再试' : e.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="wb-login">
      <Card title="通办 · 信访工作台" style={{ width: 380 }}>
        <Form layout="vertical" onFinish={submit} requiredMark={false}>
          <Form.Item label="用户名" name="username" rules={[{ required: true, message: '请输入用户名' }]}>
            <Input autoFocus autoComplete="username" />
          </Form.Item>
          <Form.Item label="密码" name="password" rules={[{ required: true, message: '请输入密码' }]}>
            <Input.Password autoComplete="current-password" />
          </Form.Item>
          {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 16 }} data-testid="login-error" />}
          <Button type="primary" htmlType="submit" block loading={busy}>
            登录
          </Button>
          <p style={{ marginTop: 16, textAlign: 'center' }}>
            <a href="#/progress">信访人查询办理进度</a>
          </p>
        </Form>
      </Card>
    </div>
  );
}
