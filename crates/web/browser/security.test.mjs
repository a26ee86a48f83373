// Sessions, CSRF, same origin, escaping and keyboard use of the clinician UI.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { start, signIn, PASSWORD, shot } from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('pages need a session; sign-in is keyboard-only friendly and sets a strict cookie', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.base}/ui/board`);
  assert.match(page.url(), /\/ui\/sign-in$/);
  await shot(page, '00-sign-in');
  // Wrong password: refused on the page, no session.
  await page.getByLabel('User name').fill('nurse');
  await page.getByLabel('Password').fill('wrong-password');
  // The refusal is awaited as the answer to the sign-in post, not by the page's load state.
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/ui/sign-in'),
    page.keyboard.press('Enter'),
  ]);
  assert.match(await page.locator('[role="alert"]').textContent(), /not recognised/);
  // Keyboard only: the user name field has focus, Tab to the password, Enter submits. Each
  // key goes out only once the field it is meant for has the focus (autofocus is applied
  // after load, later on a loaded machine), and the board is awaited as the answer to the
  // sign-in post, not by a timeout.
  await page.goto(`${env.base}/ui/sign-in`);
  await page.locator('#username:focus').waitFor();
  await page.keyboard.type('nurse');
  await page.keyboard.press('Tab');
  await page.locator('#password:focus').waitFor();
  await page.keyboard.type(PASSWORD);
  const [board] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/ui/board'),
    page.keyboard.press('Enter'),
  ]);
  assert.equal(board.status(), 200);
  await page.waitForURL(/\/ui\/board/);
  const [cookie] = (await context.cookies()).filter((c) => c.name === 'infusio_session');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  await context.close();
});

test('a change without the CSRF token or from another origin is refused', async () => {
  const page = await signIn(env, 'nurse');
  const status = await page.evaluate(async () => {
    const r = await fetch('/ui/schedule', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'patient_id=x&chair=Z9&start_at=2030-01-01T08:00Z&end_at=2030-01-01T09:00Z',
    });
    return { status: r.status, text: await r.text() };
  });
  assert.equal(status.status, 403);
  assert.match(status.text, /CSRF/);
  const csrf = await page.locator('input[name="csrf"]').first().inputValue();
  const cross = await page.request.post(`${env.base}/ui/schedule`, {
    headers: { origin: 'http://evil.example' },
    form: { csrf, patient_id: 'x', chair: 'Z9' },
  });
  assert.equal(cross.status(), 403);
  assert.match(await cross.text(), /cross-origin/);
});

test('text from the record is escaped, never run as markup', async () => {
  // A patient registered through the API with markup in the name.
  const signin = await fetch(`${env.base}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'scheduler', password: PASSWORD, mode: 'token' }),
  });
  const { token } = await signin.json();
  const created = await fetch(`${env.base}/api/patients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      mrn: 'MRN9999', family_name: '<img src=x onerror="window.pwned=1">', given_name: 'Test',
      birth_date: '1980-01-01', sex: 'female',
    }),
  });
  assert.equal(created.status, 201);
  const page = await signIn(env, 'nurse');
  await page.goto(`${env.base}/ui/patients?q=MRN9999`);
  assert.match(await page.locator('main table').textContent(), /<img src=x onerror=/);
  assert.equal(await page.locator('main table img').count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
});

test('a role without the right is refused on the page, with the reason', async () => {
  const page = await signIn(env, 'nurse');
  const r = await page.goto(`${env.base}/ui/audit`);
  assert.equal(r.status(), 403);
  assert.match(await page.locator('[role="alert"]').textContent(), /needs the role/);
});

test('pages keep their Content-Security-Policy: nothing on them is refused by the browser', async () => {
  const page = await signIn(env, 'nurse');
  // Registered before any page script runs; the policy does not apply to it.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  for (const path of ['/ui/board', '/ui/patients', '/ui/library', '/ui/library/carboplatin', '/ui/schedule']) {
    const r = await page.goto(`${env.base}${path}`);
    const headers = r.headers();
    assert.match(headers['content-security-policy'], /default-src 'self'/, path);
    assert.match(headers['content-security-policy'], /frame-ancestors 'none'/, path);
    assert.equal(headers['x-content-type-options'], 'nosniff', path);
    assert.equal(headers['cache-control'], 'no-store', path);
    assert.equal(headers['referrer-policy'], 'same-origin', path);
    await page.waitForLoadState('load');
    // The board's grid is laid out by stylesheet classes (no inline style): every quarter
    // hour is a column and each appointment sits in its chair's row.
    const grid = await page.evaluate(() => {
      const b = document.querySelector('.board');
      if (!b) return null;
      const appt = b.querySelector('.appt');
      return {
        columns: getComputedStyle(b).gridTemplateColumns.split(' ').length,
        apptRow: appt ? getComputedStyle(appt).gridRowStart : null,
      };
    });
    if (grid) {
      assert.ok(grid.columns >= 5, `${path}: ${JSON.stringify(grid)}`);
      if (grid.apptRow !== null) assert.notEqual(grid.apptRow, 'auto', path);
    }
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], path);
  }
});
