// Vancomycin: a weight-based dose rounded to the nearest 250 mg, with the rounding shown in the
// derivation, through to a completed administration.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, signIn, openNewOrder, preview, createAndSign, verifyPrepareBook,
  startAdministration, vitalsAndComplete,
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
});
