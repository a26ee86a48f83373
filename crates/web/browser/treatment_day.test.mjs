// A treatment day from a therapy plan: the demo's mFOLFOX6 plan (premedications, then
// oxaliplatin, leucovorin, the fluorouracil bolus and the 46-hour infusion) is released as
// orders from the chart, signed in one action and verified line by line by the pharmacist.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { start, signIn, shot, figure, overrideAll, verify } from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

/** Submits `button`, giving a reason for every warning shown, until `done()` holds. */
async function submitWithReasons(page, button, done) {
  for (let i = 0; i < 6; i++) {
    await overrideAll(page, 'Reviewed against the protocol with the patient\'s oncologist');
    await page.getByRole('button', { name: button }).click();
    await page.locator('main').waitFor();
    if (await done()) return;
  }
  assert.fail(`"${button}" did not go through: ${await page.locator('main').textContent()}`);
}

const statusOf = async (page, n) => (await page.locator(`tr[data-line="${n}"] [data-status]`).textContent()).trim();

test('treatment day: release, sign together, verify line by line', async () => {
  const prescriber = await signIn(env, 'prescriber');
  await prescriber.goto(`${env.base}/ui/patients`);
  await prescriber.getByLabel('Search by MRN or name').fill('MRN1004');
  await prescriber.getByRole('button', { name: 'Search' }).click();
  await prescriber.getByRole('row', { name: /MRN1004/ }).getByRole('link').first().click();
  await prescriber.locator('a[data-treatment-day]').first().click();
  await prescriber.locator('table[data-lines]').waitFor();
  const kinds = await prescriber.locator('table[data-lines] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.kind));
  assert.deepEqual(kinds.slice(0, 6), ['premedication', 'premedication', 'drug', 'drug', 'drug', 'drug']);
  assert.match(await prescriber.locator('tr[data-line="1"]').textContent(), /30 min before/);
  assert.equal(await prescriber.locator('tr[data-lab="anc"] [data-outcome]').getAttribute('data-outcome'), 'go');
  await shot(prescriber, '40-treatment-day-planned');

  // The prescriber sets oxaliplatin's bag and leucovorin's 2 h beside it, and releases.
  await prescriber.getByLabel('Line 3 bag volume').fill('500 mL');
  await prescriber.getByLabel('Line 4 bag volume').fill('250 mL');
  await prescriber.getByLabel('Line 4 infusion time').fill('2 h');
  await submitWithReasons(prescriber, 'Release the day as orders', async () => (await prescriber.locator('form[data-release]').count()) === 0);
  for (const n of [1, 2, 3, 4, 5, 6]) assert.equal(await statusOf(prescriber, n), 'draft', `line ${n}`);
  await shot(prescriber, '41-treatment-day-released');

  // One action signs every line.
  await submitWithReasons(prescriber, 'Sign all lines', async () => (await prescriber.locator('form[data-sign-day]').count()) === 0);
  for (const n of [1, 2, 3, 4, 5, 6]) assert.equal(await statusOf(prescriber, n), 'signed', `line ${n}`);
  await shot(prescriber, '42-treatment-day-signed');

  // The pharmacist verifies line by line, blind: ondansetron, then oxaliplatin.
  const pharmacist = await signIn(env, 'pharmacist');
  const dayUrl = prescriber.url();
  for (const n of [1, 3]) {
    const href = await prescriber.locator(`tr[data-line="${n}"] a`, { hasText: 'Order' }).getAttribute('href');
    const orderId = href.split('/').pop();
    await prescriber.goto(`${env.base}${href}`);
    // A premedication pushed without a bag has no volume or rate ('—' on the page).
    const shown = async (name) => { const v = await figure(prescriber, name); return v === '—' ? null : v; };
    const mine = { dose: await shown('dose'), volume: await shown('volume'), rate: await shown('rate') };
    assert.equal(await verify(env, pharmacist, orderId, mine), 'verified', `line ${n}`);
    await prescriber.goto(dayUrl);
  }
  await pharmacist.goto(dayUrl);
  assert.equal(await statusOf(pharmacist, 1), 'verified');
  assert.equal(await statusOf(pharmacist, 3), 'verified');
  assert.equal(await statusOf(pharmacist, 4), 'signed');
  await shot(pharmacist, '43-treatment-day-verified-line-by-line');
});
