// Time to first byte of the main pages on the demo data: the browser's Navigation Timing
// (responseStart - requestStart), p95 over 20 loads of each page. This is a measurement, not a
// timed test: the figures are printed and saved as ttfb.json beside the screenshots, and the
// test asserts only that every page answered 200 with a measurable first byte (speed is judged
// from the figures on a quiet machine, never by a threshold that a loaded machine would fail).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { start, signIn, ttfb } from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('main pages: time to first byte measured (p95 of 20 loads)', async () => {
  // A pharmacist reads every page (clinical record and audit trail).
  const page = await signIn(env, 'pharmacist');
  await page.goto(`${env.base}/ui/patients?q=MRN1001`);
  const chart = await page.locator('a[href^="/ui/patients/"]').first().getAttribute('href');
  await page.goto(`${env.base}${chart}`);
  const order = await page.locator('a[href^="/ui/orders/"]').first().getAttribute('href');
  const pages = {
    board: '/ui/board',
    patients: '/ui/patients',
    chart,
    order,
    'new order form': `/ui/orders/new?patient_id=${chart.split('/').pop()}`,
    'verify queue': '/ui/verify',
    pharmacy: '/ui/pharmacy',
    schedule: '/ui/schedule',
    library: '/ui/library',
    audit: '/ui/audit',
  };
  const results = {};
  for (const [name, path] of Object.entries(pages)) {
    results[name] = await ttfb(page, `${env.base}${path}`, 20);
  }
  const lines = Object.entries(results).map(
    ([n, r]) => `${n.padEnd(16)} p95 ${r.p95.toFixed(1)} ms  median ${r.median.toFixed(1)} ms  max ${r.max.toFixed(1)} ms`,
  );
  console.log(`time to first byte (20 loads each):\n${lines.join('\n')}`);
  const dir = process.env.INFUSIO_ARTEFACTS || join(tmpdir(), 'infusio-browser-artefacts');
  writeFileSync(join(dir, 'ttfb.json'), JSON.stringify(results, null, 2));
  for (const [name, r] of Object.entries(results)) {
    assert.ok(Number.isFinite(r.p95) && r.p95 >= 0, `${name}: no first-byte timing measured`);
  }
});
