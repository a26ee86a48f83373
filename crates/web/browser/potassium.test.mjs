// Potassium chloride: 20 mEq over 15 min (80 mEq/h) is refused as a hard stop; over 2 h it is
// ordered; at the bedside a pump keyed at the wrong rate blocks the start until corrected.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, signIn, shot, openNewOrder, preview, createAndSign, verifyPrepareBook,
  startAdministration, vitalsAndComplete,
} from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('potassium: refused at the wrong rate, ordered at a safe one, wrong pump rate blocks', async () => {
  const prescriber = await signIn(env, 'prescriber');
  await openNewOrder(env, prescriber, 'MRN1007');
  await preview(prescriber, {
    medication: 'potassium-chloride', dose: '20 mEq', volume: '100 mL', duration: '15 min',
    line: 'central',
  });
  const banner = prescriber.locator('[data-error="hard-stop"]');
  assert.equal(await banner.isVisible(), true);
  assert.match(await banner.textContent(), /mEq\/h/);
  assert.equal(await prescriber.getByRole('button', { name: 'Create order', exact: true }).count(), 0);
  await shot(prescriber, '23-potassium-refused');

  const figures = await preview(prescriber, { duration: '2 h' });
  assert.equal(await prescriber.locator('[data-error="hard-stop"]').count(), 0);
  assert.equal(figures.dose, '20 mEq');
  assert.equal(figures.rate, '50 mL/h');
  const orderId = await createAndSign(prescriber);

  const { bag } = await verifyPrepareBook(env, orderId, figures, 'B3');
  const nurse = await signIn(env, 'nurse');
  await startAdministration(env, nurse, orderId, {
    wristband: 'MRN1007', bag, dose: figures.dose, rate: '100 mL/h', vtbi: figures.volume,
    second: 'nurse2',
  });
  assert.equal(await nurse.locator('[data-error="blocked"]').isVisible(), true);
  assert.match(await nurse.locator('[data-right="pump.rate_mismatch"]').textContent(), /NOT MET/);
  assert.match(await nurse.locator('[data-right="five_rights.patient"]').textContent(), /✓/);
  await shot(nurse, '24-pump-rate-mismatch');
  await startAdministration(env, nurse, orderId, {
    wristband: 'MRN1007', bag, dose: figures.dose, rate: figures.rate, vtbi: figures.volume,
    second: 'nurse2',
  });
  assert.match(await nurse.locator('main').textContent(), /Five rights confirmed/);
  await vitalsAndComplete(nurse);
});
