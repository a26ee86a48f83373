// Rituximab first infusion at the bedside (RITUXAN US prescribing information, section 2.1:
// start at 50 mg/h, increase by 50 mg/h every 30 minutes to at most 400 mg/h): started at the
// labelled rate, stepped up along the verified schedule with a soft-limit override on a step
// taken before its interval, a rate above the label's hard maximum refused, and a partial
// infusion completed with the volume the pump shows.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, signIn, shot, prescribe, verifyPrepareBook, startAdministration,
} from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('rituximab first infusion: labelled start, titrated with an override, hard limit refused, partial completion', async () => {
  const prescriber = await signIn(env, 'prescriber');
  const { orderId, figures } = await prescribe(env, prescriber, 'MRN1001', {
    medication: 'rituximab', dose_per: '375 mg/m2', volume: '500 mL', duration: '4 h',
    line: 'peripheral', frequency: 'once', infusion_number: '1', indication: 'nhl-cll',
  });
  const { bag } = await verifyPrepareBook(env, orderId, figures, 'T1');

  const nurse = await signIn(env, 'nurse');
  await nurse.goto(`${env.base}/ui/orders/${orderId}/administer`);
  const startRate = await nurse.locator('[data-start-rate]').getAttribute('data-start-rate');
  assert.ok(Number(startRate) > 0, 'the schedule\'s first step is shown');
  // The labelled start rate is the expected rate, not a violation.
  await startAdministration(env, nurse, orderId, {
    wristband: 'MRN1001', bag, dose: figures.dose, rate: `${startRate} mL/h`, vtbi: figures.volume,
  });
  assert.match(await nurse.locator('main').textContent(), /Five rights confirmed/);
  const rows = nurse.locator('tr[data-titration-step]');
  assert.ok((await rows.count()) >= 7, 'the label\'s ramp of eight steps');
  assert.match(await rows.nth(0).textContent(), /50 mg\/h/);
  assert.match(await nurse.locator('.timer').textContent(), /Next step to .* mL\/h due at/);

  // The next step at once: before its 30 minutes, a soft limit that asks for a reason.
  const step2 = (await rows.nth(1).locator('td').nth(1).textContent()).trim().replace(/,/g, '');
  await nurse.locator('#t-rate').fill(step2);
  await nurse.getByRole('button', { name: 'Record titration step' }).click();
  await nurse.locator('[data-error]').first().waitFor();
  assert.match(await nurse.locator('main').textContent(), /override reason is required to step up early/);
  await nurse.locator('#t-rate').fill(step2);
  await nurse.locator('#t-override_reason').fill('tolerating well, prescriber at the chair');
  await nurse.getByRole('button', { name: 'Record titration step' }).click();
  await nurse.waitForSelector('table.events');
  const events = await nurse.locator('table.events').textContent();
  assert.match(events, /titration to/);
  assert.match(events, /override titration\.step_early: tolerating well/);
  await shot(nurse, '30-rituximab-titrated');

  // 1,500 mL/h is far above the label's 400 mg/h: refused, the limit named.
  await nurse.locator('#rc-rate').fill('1500 mL/h');
  await nurse.getByRole('button', { name: 'Record rate change' }).click();
  await nurse.locator('[data-error]').first().waitFor();
  assert.match(await nurse.locator('main').textContent(), /hard maximum of 400 mg\/h/);

  // Completed early with what the pump shows: a partial dose, with its derivation.
  await nurse.locator('#c-volume_infused').fill('1 mL');
  await nurse.getByRole('button', { name: 'Complete infusion' }).click();
  await nurse.waitForSelector('[data-admin-status="completed"]');
  assert.match(await nurse.locator('p.given').textContent(), /partial infusion/);
  await shot(nurse, '31-rituximab-partial');
});
