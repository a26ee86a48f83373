// Immune globulin (Gammagard Liquid): the library's rate ramp computed for the patient's weight
// is shown with a timer at the bedside; the nurse steps the rate up along it, documents a
// mild reaction with its grade, and completes.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, signIn, shot, prescribe, verifyPrepareBook, startAdministration, vitalsAndComplete,
} from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('IVIG: rate ramp shown and followed, reaction graded, completed', async () => {
  const prescriber = await signIn(env, 'prescriber');
  const { orderId, figures } = await prescribe(env, prescriber, 'MRN1005', {
    medication: 'immune-globulin', dose_per: '0.4 g/kg', volume: '220 mL', duration: '3 h',
    product: 'gammagard-liquid', frequency: 'q28d',
  });
  // 0.4 g/kg × 55 kg.
  assert.equal(figures.dose, '22 g');
  const { bag } = await verifyPrepareBook(env, orderId, figures, 'B5');

  const nurse = await signIn(env, 'nurse');
  await startAdministration(env, nurse, orderId, {
    // A titrated order starts at its schedule's first step (0.5 mL/kg/h × 55 kg).
    wristband: 'MRN1005', bag, dose: figures.dose, rate: '27.5 mL/h', vtbi: figures.volume,
  });
  assert.match(await nurse.locator('main').textContent(), /Five rights confirmed/);
  // The ramp: 0.5 mL/kg/h × 55 kg = 27.5 mL/h first, stepping up every 30 min.
  const rows = nurse.locator('tr[data-titration-step]');
  assert.ok((await rows.count()) >= 3, 'a ramp of several steps');
  assert.match(await rows.nth(0).textContent(), /27.5 mL\/h/);
  assert.match(await nurse.locator('.timer').textContent(), /Next step to .* mL\/h due at/);
  const step2 = (await rows.nth(1).locator('td').nth(1).textContent()).trim();
  const step3 = (await rows.nth(2).locator('td').nth(1).textContent()).trim();
  for (const rate of [step2, step3]) {
    await nurse.locator('#t-rate').fill(rate.replace(/,/g, ''));
    // Stepped up at once in the test: the schedule's interval has not run, so the step is
    // a soft limit that needs a reason.
    await nurse.locator('#t-override_reason').fill('tolerating well, prescriber at the chair');
    await nurse.getByRole('button', { name: 'Record titration step' }).click();
    await nurse.waitForLoadState();
  }
  const events = await nurse.locator('table.events').textContent();
  assert.match(events, new RegExp(`titration to ${step2.replace('.', '\\.')}`));
  assert.match(events, new RegExp(`titration to ${step3.replace('.', '\\.')}`));
  await nurse.getByLabel('Grade').selectOption('1');
  await nurse.locator('#r-symptoms').fill('flushing; rate held');
  await nurse.getByRole('button', { name: 'Record reaction' }).click();
  await nurse.waitForLoadState();
  assert.match(await nurse.locator('table.events').textContent(), /reaction — grade 1/);
  await shot(nurse, '25-ivig-ramp');
  // The board shows the reaction.
  await nurse.goto(`${env.base}/ui/board`);
  assert.equal(
    await nurse.locator(`a.appt[href="/ui/orders/${orderId}"]`).getAttribute('data-status'),
    'reaction',
  );
  await nurse.goBack();
  await vitalsAndComplete(nurse);
});
