// Vancomycin: a weight-based dose rounded to the nearest 250 mg, with the rounding shown in the
// derivation, through to a completed administration.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, signIn, shot, figure, openNewOrder, preview, createAndSign, verifyPrepareBook,
  startAdministration, vitalsAndComplete, overrideAll,
} from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('vancomycin: rounded weight-based dose with its derivation, administered', async () => {
  const prescriber = await signIn(env, 'prescriber');
  await openNewOrder(env, prescriber, 'MRN1003');
  const figures = await preview(prescriber, {
    medication: 'vancomycin', dose_per: '15 mg/kg', rounding_increment: '250 mg',
    rounding_tolerance_percent: '10', volume: '250 mL', duration: '2 h', line: 'peripheral',
    frequency: 'q12h',
  });
  // 15 mg/kg × 74 kg = 1,110 mg, rounded to a multiple of 250 mg within 10%.
  const derivation = await prescriber.locator('section.preview details').first().textContent();
  assert.match(derivation, /74 kg/);
  assert.match(derivation, /1,110 mg/);
  const mg = Number(figures.dose.replace(/[^0-9.]/g, ''));
  assert.equal(mg % 250, 0, `rounded dose ${figures.dose}`);
  assert.ok(Math.abs(mg - 1110) <= 111, `within 10% of 1,110 mg: ${figures.dose}`);
  const orderId = await createAndSign(prescriber);

  const { bag } = await verifyPrepareBook(env, orderId, figures, 'B4');
  const nurse = await signIn(env, 'nurse');
  await startAdministration(env, nurse, orderId, {
    wristband: 'MRN1003', bag, dose: figures.dose, rate: figures.rate, vtbi: figures.volume,
  });
  assert.match(await nurse.locator('main').textContent(), /Five rights confirmed/);
  await vitalsAndComplete(nurse);

  // Dosing from levels, from the order: four doses of 1,000 mg q12h over 1 h, a peak and a
  // trough after the fourth; the fitted curve, the target band and the regimens.
  await prescriber.goto(`${env.base}/ui/orders/${orderId}`);
  await prescriber.getByRole('link', { name: 'Vancomycin dosing from levels' }).click();
  await prescriber.getByLabel('Dose (mg)').fill('1000');
  await prescriber.getByLabel('Every (h)').fill('12');
  await prescriber.getByLabel('Infused over (h)').fill('1');
  await prescriber.getByLabel('Doses given so far').fill('4');
  await prescriber.getByLabel('Level 1: hours after the start of the last dose').fill('2');
  await prescriber.getByLabel('Level 1 (mg/L)').fill('28');
  await prescriber.getByLabel('Level 2: hours after the start of the last dose').fill('11.5');
  await prescriber.getByLabel('Level 2 (mg/L)').fill('11');
  await prescriber.getByRole('button', { name: 'Fit and recommend' }).click();
  await prescriber.locator('svg.pk').waitFor();
  assert.equal(await prescriber.locator('svg.pk [data-curve="fitted"]').count(), 1);
  assert.equal(await prescriber.locator('svg.pk [data-level]').count(), 2);
  assert.match(await figure(prescriber, 'auc24'), /mg·h\/L$/);
  const rows = prescriber.locator('table[data-regimens] tbody tr');
  assert.ok((await rows.count()) >= 1);
  assert.match(await rows.first().textContent(), /✓ yes/);
  await shot(prescriber, '26-vancomycin-pk');

  // From the record: the dose as given (its start, stop and volume) is fitted, and the
  // recommended regimen becomes a draft order in one click.
  const recorded = prescriber.locator('table[data-recorded-doses] tbody tr');
  assert.equal(await recorded.count(), 1);
  await prescriber.getByLabel('Level 1: hours after the start of the last recorded dose').fill('2');
  await prescriber.getByLabel('Level 1 measured (mg/L)').fill('28');
  await prescriber.getByRole('button', { name: 'Fit on the doses as given' }).click();
  const options = prescriber.locator('table[data-record-regimens] tbody tr');
  await options.first().waitFor();
  await options.first().getByRole('button', { name: 'Order this regimen' }).click();
  await prescriber.locator('main').waitFor();
  if (!/\/ui\/orders\/[0-9a-f-]+$/.test(prescriber.url())) {
    await overrideAll(prescriber, 'AUC-guided regimen from the measured level');
    await prescriber.getByRole('button', { name: 'Order this regimen' }).click();
  }
  await prescriber.waitForURL(/\/ui\/orders\/[0-9a-f-]+$/);
  assert.match(await prescriber.locator('.order-head').textContent(), /draft/);
  assert.match(await prescriber.locator('main').textContent(), /[Vv]ancomycin/);
  await shot(prescriber, '27-vancomycin-regimen-ordered');
});
