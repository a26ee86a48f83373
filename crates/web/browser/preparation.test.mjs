// Preparation of a rituximab first infusion in a fixed final volume: the plan withdraws the
// drug volume from the bag (never "remove 0 mL"), the technician records it, and the label's
// Code 128 barcode, read back from the SVG's bars, is the bag id printed beside it.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { start, signIn, shot, prescribe, verify, prepare } from './lib.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

// Code 128 bar and space widths of the symbol values 0 to 106 (ISO/IEC 15417, table 1).
const PATTERNS = [
  '212222', '222122', '222221', '121223', '121322', '131222', '122213', '122312', '132212', '221213',
  '221312', '231212', '112232', '122132', '122231', '113222', '123122', '123221', '223211', '221132',
  '221231', '213212', '223112', '312131', '311222', '321122', '321221', '312212', '322112', '322211',
  '212123', '212321', '232121', '111323', '131123', '131321', '112313', '132113', '132311', '211313',
  '231113', '231311', '112133', '112331', '132131', '113123', '113321', '133121', '313121', '211331',
  '231131', '213113', '213311', '213131', '311123', '311321', '331121', '312113', '312311', '332111',
  '314111', '221411', '431111', '111224', '111422', '121124', '121421', '141122', '141221', '112214',
  '112412', '122114', '122411', '142112', '142211', '241211', '221114', '413111', '241112', '134111',
  '111242', '121142', '121241', '114212', '124112', '124211', '411212', '421112', '421211', '212141',
  '214121', '412121', '111143', '111341', '131141', '114113', '114311', '411113', '411311', '113141',
  '114131', '311141', '411131', '211412', '211214', '211232', '2331112',
];

/** Decodes code set B from bar geometry [[x, width], …] (modules): start B, data, check, stop. */
function decodeCode128(bars) {
  const widths = [];
  bars.forEach(([x, w], i) => {
    if (i > 0) widths.push(x - (bars[i - 1][0] + bars[i - 1][1]));
    widths.push(w);
  });
  const stop = widths.slice(-7).join('');
  assert.equal(stop, PATTERNS[106], 'stop pattern');
  const body = widths.slice(0, -7);
  assert.equal(body.length % 6, 0, 'whole symbols');
  const values = [];
  for (let i = 0; i < body.length; i += 6) {
    const v = PATTERNS.indexOf(body.slice(i, i + 6).join(''));
    assert.ok(v >= 0 && v < 106, `symbol ${i / 6} matches the table`);
    values.push(v);
  }
  const [startValue, ...rest] = values;
  const check = rest.pop();
  assert.equal(startValue, 104, 'start B');
  const sum = rest.reduce((acc, v, i) => acc + v * (i + 1), startValue);
  assert.equal(sum % 103, check, 'check character');
  return rest.map((v) => String.fromCharCode(v + 32)).join('');
}

test('rituximab first infusion: withdraw to the final volume, label with a barcode that decodes to the bag id', async () => {
  const prescriber = await signIn(env, 'prescriber');
  const { orderId, figures } = await prescribe(env, prescriber, 'MRN1004', {
    medication: 'rituximab', dose_per: '375 mg/m2', route: 'iv', volume: '500 mL', duration: '4 h',
    line: 'peripheral', frequency: 'once', infusion_number: '1',
  });
  assert.equal(figures.volume, '500 mL');

  const pharmacist = await signIn(env, 'pharmacist');
  assert.equal(await verify(env, pharmacist, orderId, figures), 'verified');

  const technician = await signIn(env, 'technician');
  await technician.goto(`${env.base}/ui/orders/${orderId}/prepare`);
  const withdraw = (await technician.locator('[data-figure="withdraw_volume"]').textContent()).trim();
  const finalVolume = (await technician.locator('[data-figure="final_volume"]').textContent()).trim();
  const plan = await technician.locator('main').textContent();
  await shot(technician, 'preparation-rituximab-plan');
  // 10 mg/mL vials: the drug's volume is dose ÷ 10 mg/mL; that much diluent comes out of the
  // 500 mL bag so the bag holds 500 mL.
  const drugMl = Number(withdraw.replace(/[^0-9.]/g, ''));
  assert.ok(drugMl > 0, withdraw);
  assert.equal(finalVolume, '500 mL');
  assert.ok(plan.includes(`bag of 500 mL; remove ${withdraw} before adding the drug`), plan);
  assert.doesNotMatch(plan, /remove 0 mL/);

  const bag = await prepare(env, technician, orderId);
  await shot(technician, 'preparation-rituximab-label');
  const label = await technician.locator('article.label').textContent();
  assert.match(label, /riTUXimab/);
  assert.match(label, /MRN1004/);
  assert.match(label, /titrate per schedule|mL\/h over/);
  const bars = await technician.locator('svg[data-barcode="code128"] rect.bar').evaluateAll(
    (rects) => rects.map((r) => [Number(r.getAttribute('x')), Number(r.getAttribute('width'))]),
  );
  assert.ok(bars.length > 20, 'the barcode has bars');
  assert.equal(decodeCode128(bars), bag);
});
