// Infliximab from prescription to completed administration, across the roles, with a
// screenshot of every main screen.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, signIn, shot, openNewOrder, preview, createAndSign, verify, prepare, book, patientOf, startAdministration,
  vitalsAndComplete,
} from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('infliximab: order, blind verification, preparation, booking, administration complete', async () => {
  const prescriber = await signIn(env, 'prescriber');
  await shot(prescriber, '01-board');
  // From the protocol: infliximab 5 mg/kg maintenance, 250 mL over 120 min.
  await openNewOrder(env, prescriber, 'MRN1001', { screenshots: true });
  const picker = prescriber.getByLabel('Start from a protocol');
  const option = await picker.locator('option', { hasText: /maintenance — inFLIXimab/ }).first().getAttribute('value');
  await picker.selectOption(option);
  await prescriber.getByRole('button', { name: 'Start from this protocol' }).click();
  assert.equal(await prescriber.locator('[name="dose_per"]').inputValue(), '5 mg/kg');
  assert.equal(await prescriber.locator('[name="volume"]').inputValue(), '250 mL');
  assert.equal(await prescriber.locator('[name="duration"]').inputValue(), '120 min');
  const figures = await preview(prescriber, {
    line: 'peripheral', infusion_number: '5', indication: 'crohns-disease',
  });
  const orderId = await createAndSign(prescriber, { screenshots: true });
  // 5 mg/kg of the demo patient's 68 kg, in 250 mL over 2 h.
  assert.equal(figures.dose, '340 mg');
  assert.equal(figures.volume, '250 mL');
  assert.equal(figures.rate, '125 mL/h');

  // The chart shows measurements with dates and the new order.
  const patientId = await patientOf(env, prescriber, orderId);
  await prescriber.goto(`${env.base}/ui/patients/${patientId}`);
  const chart = await prescriber.locator('main').textContent();
  assert.match(chart, /68 kg/);
  assert.match(chart, /inFLIXimab/);
  // The demo's plan for this patient: the IBD protocol with its coming days.
  assert.match(chart, /Therapy plans[\s\S]*Infliximab 5 mg\/kg induction[\s\S]*Next: \d{4}-\d\d-\d\d/);
  await shot(prescriber, '03-chart');

  const pharmacist = await signIn(env, 'pharmacist');
  const outcome = await verify(env, pharmacist, orderId, figures, { screenshots: true });
  assert.equal(outcome, 'verified');
  // The comparison shows the prescriber's figures once the pharmacist's are recorded.
  assert.match(await pharmacist.locator('table.compare').textContent(), /340 mg[\s\S]*340 mg/);

  const technician = await signIn(env, 'technician');
  const bag = await prepare(env, technician, orderId, { screenshots: true });
  assert.ok(bag.length > 0);

  const scheduler = await signIn(env, 'scheduler');
  await book(env, scheduler, patientId, orderId, 'B1', { screenshots: true });
  const card = scheduler.locator(`a.appt[href="/ui/orders/${orderId}"]`);
  assert.equal(await card.getAttribute('data-status'), 'ready');

  const nurse = await signIn(env, 'nurse');
  await nurse.goto(`${env.base}/ui/orders/${orderId}/administer`);
  await shot(nurse, '14-administer');
  await startAdministration(env, nurse, orderId, {
    wristband: 'MRN1001', bag, dose: figures.dose, rate: figures.rate, vtbi: figures.volume,
  });
  assert.match(await nurse.locator('main').textContent(), /Five rights confirmed/);
  await shot(nurse, '15-administration-started');
  await vitalsAndComplete(nurse, { screenshots: true, name: 'infliximab' });
  await shot(nurse, '17-administration-complete');

  // The board now shows the appointment complete, with the nurse.
  await nurse.goto(`${env.base}/ui/board`);
  const done = nurse.locator(`a.appt[href="/ui/orders/${orderId}"]`);
  assert.equal(await done.getAttribute('data-status'), 'complete');
  assert.match(await done.textContent(), /Nia Nurse/);

  await nurse.goto(`${env.base}/ui/library`);
  await shot(nurse, '18-library');
  await nurse.goto(`${env.base}/ui/library/carboplatin`);
  assert.match(await nurse.locator('h1').textContent(), /CARBOplatin/);
  await shot(nurse, '19-library-entry');

  const admin = await signIn(env, 'admin');
  await admin.goto(`${env.base}/ui/audit`);
  assert.equal(await admin.locator('[data-chain]').getAttribute('data-chain'), 'intact');
  assert.match(await admin.locator('table.audit').textContent(), /administration\.finish/);
  await shot(admin, '20-audit');
});
