// Carboplatin: a dose above the absolute maximum is a hard stop that no button and no direct
// post can get past; corrected, the order goes through to a completed administration with the
// second nurse's double check.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  start, signIn, shot, openNewOrder, preview, createAndSign, verifyPrepareBook,
  startAdministration, vitalsAndComplete,
} from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

test('carboplatin: hard stop blocks, correction passes, administered with double check', async () => {
  const prescriber = await signIn(env, 'prescriber');
  await openNewOrder(env, prescriber, 'MRN1002');
  await preview(prescriber, {
    medication: 'carboplatin', dose: '1500 mg', volume: '500 mL', duration: '1 h',
    line: 'peripheral', frequency: 'q21d',
  });
  // The hard stop is unmissable and there is no way to create the order from the screen.
  const banner = prescriber.locator('[data-error="hard-stop"]');
  assert.equal(await banner.isVisible(), true);
  assert.match(await banner.textContent(), /HARD STOP/);
  assert.equal(await prescriber.getByRole('button', { name: 'Create order', exact: true }).count(), 0);
  assert.equal(await prescriber.getByRole('button', { name: 'Create order (blocked)' }).isDisabled(), true);
  await shot(prescriber, '21-carboplatin-hard-stop');

  // A create posted anyway (as a tampered form would) is refused by the application.
  await prescriber.evaluate(() => {
    const form = document.querySelector('form.order-form');
    const b = document.createElement('input');
    b.type = 'hidden'; b.name = 'action'; b.value = 'create';
    form.appendChild(b);
    form.submit();
  });
  await prescriber.waitForLoadState();
  assert.equal(await prescriber.locator('[data-error="blocked"]').getAttribute('data-code'), 'order.hard_stop');
  assert.match(prescriber.url(), /\/ui\/orders\/new$/);

  // Corrected to 600 mg, the order is created and signed.
  const figures = await preview(prescriber, { dose: '600 mg' });
  assert.equal(await prescriber.locator('[data-error="hard-stop"]').count(), 0);
  assert.equal(figures.dose, '600 mg');
  assert.equal(figures.rate, '500 mL/h');
  const orderId = await createAndSign(prescriber);

  const { bag } = await verifyPrepareBook(env, orderId, figures, 'B2');
  const nurse = await signIn(env, 'nurse');
  // Without the second nurse the start is blocked and the five-rights table says why.
  await startAdministration(env, nurse, orderId, {
    wristband: 'MRN1002', bag, dose: figures.dose, rate: figures.rate, vtbi: figures.volume,
  });
  assert.equal(await nurse.locator('[data-error="blocked"]').isVisible(), true);
  assert.match(
    await nurse.locator('[data-right="double_check.required"]').textContent(), /NOT MET/,
  );
  await shot(nurse, '22-double-check-required');
  await startAdministration(env, nurse, orderId, {
    wristband: 'MRN1002', bag, dose: figures.dose, rate: figures.rate, vtbi: figures.volume,
    second: 'nurse2',
  });
  assert.match(await nurse.locator('main').textContent(), /double-checked by Ned Nurse/);
  await vitalsAndComplete(nurse);
});
