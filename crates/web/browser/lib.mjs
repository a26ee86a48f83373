// Shared helpers of the browser tests: start `infusio serve --demo` on a free port with a fresh
// data directory, drive the system Chromium through playwright-core (never a browser
// download), sign in as a demo user, save screenshots, and walk an order through the roles.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const PASSWORD = 'infusio-demo';
const ARTEFACTS = process.env.INFUSIO_ARTEFACTS || join(tmpdir(), 'infusio-browser-artefacts');
mkdirSync(ARTEFACTS, { recursive: true });

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the server with demo data and a browser. Call `stop()` at the end. */
export async function start() {
  const bin = process.env.INFUSIO_BIN;
  assert.ok(bin, 'INFUSIO_BIN must name the infusio binary to test');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'infusio-web-'));
  const server = spawn(bin, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, INFUSIO_LOG: 'warn' },
  });
  let log = '';
  server.stdout.on('data', (d) => { log += d; });
  server.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`infusio serve exited early:\n${log}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`infusio serve did not answer /healthz:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
  return {
    base,
    browser,
    log: () => log,
    async stop() {
      await browser.close().catch(() => {});
      server.kill('SIGTERM');
      await new Promise((r) => (server.exitCode !== null ? r() : server.once('exit', r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A new browser context (its own cookies) signed in as `username`, tablet-sized. */
export async function signIn(env, username) {
  const context = await env.browser.newContext({ viewport: { width: 1180, height: 820 } });
  const page = await context.newPage();
  page.on('dialog', (d) => d.accept());
  await page.goto(`${env.base}/ui/sign-in`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/ui\/board/);
  return page;
}

export async function shot(page, name) {
  await page.screenshot({ path: join(ARTEFACTS, `${name}.png`), fullPage: true });
}

/** The text of a `[data-figure=name]` element, or null. */
export async function figure(page, name) {
  const el = page.locator(`[data-figure="${name}"]`).first();
  if ((await el.count()) === 0) return null;
  return (await el.textContent()).trim();
}

/** A displayed quantity typed back: thousands separators removed. */
export const typed = (text) => text.replace(/,/g, '');

/** Fills every override-reason field on the page with a reason. */
export async function overrideAll(page, reason = 'Reviewed with the patient\'s team; proceed') {
  const fields = page.locator('textarea[name^="override."]');
  const n = await fields.count();
  for (let i = 0; i < n; i++) await fields.nth(i).fill(reason);
  return n;
}

/** Fills the order form with `fields` (`medication` is selected, the rest typed). */
export async function fillOrder(page, fields) {
  for (const [k, v] of Object.entries(fields)) {
    const el = page.locator(`[name="${k}"]`);
    const tag = await el.evaluate((n) => n.tagName);
    if (tag === 'SELECT') await el.selectOption(v);
    else await el.fill(v);
  }
}

/** Opens the new-order form for the patient with `mrn` from the patient list. */
export async function openNewOrder(env, page, mrn, { screenshots = false } = {}) {
  await page.goto(`${env.base}/ui/patients`);
  await page.getByLabel('Search by MRN or name').fill(mrn);
  await page.getByRole('button', { name: 'Search' }).click();
  if (screenshots) await shot(page, '02-patients');
  await page.getByRole('row', { name: new RegExp(mrn) }).getByRole('link', { name: 'New order' }).click();
}

/** Fills the form and asks the engine for the figures; returns them as displayed. */
export async function preview(page, fields) {
  await fillOrder(page, fields);
  await page.getByRole('button', { name: 'Calculate / preview' }).click();
  await page.locator('section.preview, [data-error]').first().waitFor();
  return {
    dose: await figure(page, 'dose'),
    volume: await figure(page, 'volume'),
    rate: await figure(page, 'rate'),
  };
}

/** Gives a reason for every warning, creates the order and signs it; returns its id. */
export async function createAndSign(page, { screenshots = false } = {}) {
  await overrideAll(page);
  if (screenshots) await shot(page, '04-new-order-preview');
  await page.getByRole('button', { name: 'Create order' }).click();
  await page.waitForURL(/\/ui\/orders\/[0-9a-f-]+$/);
  const orderId = page.url().split('/').pop();
  await overrideAll(page);
  await page.getByRole('button', { name: 'Sign order' }).click();
  await page.waitForURL(new RegExp(`/ui/orders/${orderId}$`));
  assert.match(await page.locator('.order-head').textContent(), /signed/);
  if (screenshots) await shot(page, '05-order-signed');
  return orderId;
}

/** The prescriber's part: find the patient, write the order, preview, create, sign. */
export async function prescribe(env, page, mrn, fields, { screenshots = false } = {}) {
  await openNewOrder(env, page, mrn, { screenshots });
  const figures = await preview(page, fields);
  const orderId = await createAndSign(page, { screenshots });
  return { orderId, figures };
}

/** The pharmacist's blind verification: own figures first, then the comparison. */
export async function verify(env, page, orderId, mine, { screenshots = false } = {}) {
  await page.goto(`${env.base}/ui/verify`);
  if (screenshots) await shot(page, '06-verify-queue');
  await page.locator(`a[href="/ui/orders/${orderId}/verify"]`).click();
  // Blind: the prescriber's figures are not on the page before the pharmacist's entry.
  assert.equal(await figure(page, 'dose'), null, 'the prescriber\'s dose is hidden before the blind entry');
  if (screenshots) await shot(page, '07-verify-blind');
  await page.getByLabel('Dose').fill(typed(mine.dose));
  if (mine.volume) await page.getByLabel('Final volume').fill(typed(mine.volume));
  if (mine.rate) await page.getByLabel('Rate', { exact: true }).fill(typed(mine.rate));
  await page.getByRole('button', { name: 'Record my figures and compare' }).click();
  const outcome = await page.locator('[data-outcome]').getAttribute('data-outcome');
  if (screenshots) await shot(page, '08-verify-compare');
  return outcome;
}

/** The technician's preparation; returns the bag barcode from the label. */
export async function prepare(env, page, orderId, { screenshots = false } = {}) {
  await page.goto(`${env.base}/ui/pharmacy`);
  if (screenshots) await shot(page, '09-pharmacy-queue');
  await page.goto(`${env.base}/ui/orders/${orderId}/prepare`);
  // The product comes from the preparation plan when the library lists vials; a premixed
  // product is named by hand.
  const product = page.locator('[name="c0.product"]');
  if ((await product.inputValue()) === '') await product.fill('Premixed bag as ordered');
  await page.locator('[name="c0.lot"]').fill('LOT-' + orderId.slice(-6));
  const expiry = new Date(Date.now() + 180 * 86400_000).toISOString().slice(0, 10);
  await page.locator('[name="c0.expiry_date"]').fill(expiry);
  if (screenshots) await shot(page, '10-prepare');
  await page.getByRole('button', { name: 'Record preparation' }).click();
  await page.waitForURL(/\/label$/);
  if (screenshots) await shot(page, '11-label');
  return (await page.locator('[data-bag]').textContent()).trim();
}

/** The scheduler books a chair from now for the order. */
export async function book(env, page, patientId, orderId, chair, { screenshots = false } = {}) {
  await page.goto(`${env.base}/ui/schedule?patient_id=${patientId}&order_id=${orderId}`);
  await page.getByLabel('Chair').fill(chair);
  if (screenshots) await shot(page, '12-schedule');
  await page.getByRole('button', { name: 'Book' }).click();
  await page.waitForURL(/\/ui\/board/);
  if (screenshots) await shot(page, '13-board');
}

/** The patient id of an order page. */
export async function patientOf(env, page, orderId) {
  await page.goto(`${env.base}/ui/orders/${orderId}`);
  const href = await page.locator('.patient-banner a').first().getAttribute('href');
  return href.split('/').pop();
}

/** The nurse's start at the bedside. Returns the page after submit. */
export async function startAdministration(env, page, orderId, s) {
  await page.goto(`${env.base}/ui/orders/${orderId}/administer`);
  await page.getByLabel('Wristband scan').fill(s.wristband);
  await page.getByLabel('Bag scan').fill(s.bag);
  await page.getByLabel('Dose on the label').fill(typed(s.dose));
  await page.getByLabel('Pump rate keyed').fill(typed(s.rate));
  await page.getByLabel('Pump VTBI keyed').fill(typed(s.vtbi));
  if (s.second) {
    await page.getByLabel('Second nurse’s user name').fill(s.second);
    await page.getByLabel('Second nurse’s password').fill(PASSWORD);
  }
  await page.getByRole('button', { name: 'Check five rights and start' }).click();
  await page.waitForLoadState();
}

/** Vitals, then complete (the confirmation dialog is accepted). */
export async function vitalsAndComplete(page, { screenshots = false, name = 'administration' } = {}) {
  await page.locator('#v-bp').fill('118/76');
  await page.locator('#v-heart_rate').fill('74');
  await page.getByRole('button', { name: 'Record vitals' }).click();
  await page.waitForLoadState();
  assert.match(await page.locator('table.events').textContent(), /vitals/);
  if (screenshots) await shot(page, `16-${name}-running`);
  // Completed as soon as it started: the volume infused is what the pump shows (1 mL); the
  // dose given is computed from it.
  await page.locator('#c-volume_infused').fill('1 mL');
  await page.getByRole('button', { name: 'Complete infusion' }).click();
  await page.waitForSelector('[data-admin-status="completed"]');
}

/** p95 of the time to first byte (Navigation Timing responseStart - requestStart) over n loads. */
export async function ttfb(page, url, n = 20) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const response = await page.goto(url);
    assert.equal(response?.status(), 200, `${url} answered ${response?.status()}`);
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      return nav.responseStart - nav.requestStart;
    });
    samples.push(t);
  }
  samples.sort((a, b) => a - b);
  const p95 = samples[Math.min(samples.length - 1, Math.ceil(0.95 * samples.length) - 1)];
  return { p95, median: samples[Math.floor(samples.length / 2)], max: samples[samples.length - 1] };
}

/** Pharmacist verifies with the given figures, technician prepares, scheduler books `chair`
 * from now. Returns the bag barcode and the patient id. */
export async function verifyPrepareBook(env, orderId, figures, chair) {
  const pharmacist = await signIn(env, 'pharmacist');
  assert.equal(await verify(env, pharmacist, orderId, figures), 'verified');
  const technician = await signIn(env, 'technician');
  const bag = await prepare(env, technician, orderId);
  const scheduler = await signIn(env, 'scheduler');
  const patientId = await patientOf(env, scheduler, orderId);
  await book(env, scheduler, patientId, orderId, chair);
  await Promise.all([pharmacist, technician, scheduler].map((p) => p.context().close()));
  return { bag, patientId };
}
