// Bulk data from a US node to a peer in RU: the gate holds it, a second user
// of the sender approves it with the keyboard alone, and the peer receives it.
import { test, before, after } from 'node:test';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { makeNode, peer, serve, stop, launch, context, signIn, axe, shotsDir } from './lib.mjs';

let a, b, browser;

before(async () => {
  a = await makeNode('cert-a.example', 'RU');
  b = await makeNode('cert-b.example', 'US');
  peer(a, b);
  peer(b, a);
  // A's admin knows where B is: deadlines show in B's local time too.
  appendFileSync(join(a.dir, 'config.toml'), '\n[peer_time_zones]\n"cert-b.example" = "America/New_York"\n');
  await serve(a);
  await serve(b);
  ({ browser } = await launch());
});

after(async () => {
  await browser?.close();
  for (const n of [a, b]) if (n) stop(n);
});

/// `n` distinct card numbers that pass the Luhn check, one CSV row each.
function cardsCsv(n) {
  const rows = ['customer,card'];
  for (let i = 0; i < n; i++) {
    const body = `411111${String(i).padStart(9, '0')}`;
    let sum = 0;
    for (let k = 0; k < body.length; k++) {
      let d = Number(body[body.length - 1 - k]);
      if (k % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    rows.push(`c${i},${body}${(10 - (sum % 10)) % 10}`);
  }
  return rows.join('\n') + '\n';
}

test('B attaches 12,000 cards for A: held; another B user approves it by keyboard; A receives it', async () => {
  const B = await context(browser);
  await signIn(B.page, b, 'officer');
  await B.page.goto(`${b.url}/ui/compose?type=consultation`);
  await B.page.selectOption('#f-recipient', 'cert-a.example');
  await B.page.fill('#f-reference', '2026/BULK/1');
  await B.page.fill('#f-issuing_authority', 'National CERT');
  await B.page.fill('#f-facts', 'Which of these cards were used on the marketplace?');
  await B.page.setInputFiles('#f-file', {
    name: 'cards.csv', mimeType: 'text/csv', buffer: Buffer.from(cardsCsv(12000)),
  });
  await B.page.click('button[value=preview]');
  await B.page.getByRole('heading', { name: /Gate preview/ }).waitFor();
  assert.match(await B.page.locator('.preview').innerText(), /hold/);
  assert.deepEqual(await axe(B.page), [], 'preview of a hold');
  await B.page.click('button[value=send]');
  await B.page.locator('#form-error').waitFor();
  assert.match(await B.page.locator('#form-error').innerText(), /held it for review/);

  // The officer who sent it cannot release it.
  await B.page.goto(`${b.url}/ui/holds`);
  assert.match(await B.page.locator('.cards').innerText(), /another reviewer must decide it/);

  // The reviewer: sign in, reach the approval and decide, keys only.
  const R = await context(browser);
  const p = R.page;
  await p.goto(`${b.url}/ui/login`);
  await p.keyboard.press('Tab');
  await p.keyboard.type('reviewer');
  await p.keyboard.press('Tab');
  await p.keyboard.type('reviewer-password');
  await p.keyboard.press('Enter');
  await p.waitForURL(`${b.url}/ui/`);
  await p.goto(`${b.url}/ui/holds`);
  assert.deepEqual(await axe(p), [], 'review queue');
  await p.screenshot({ path: `${shotsDir()}/review-queue.png`, fullPage: true });
  const focusedId = () => p.evaluate(() => document.activeElement?.id ?? '');
  for (let i = 0; i < 60 && !(await focusedId()).startsWith('reason-'); i++) {
    await p.keyboard.press('Tab');
  }
  assert.match(await focusedId(), /^reason-/, 'the reason field is reachable by Tab');
  await p.keyboard.type('Card numbers the requesting CERT needs to warn issuers; MLAT 2026/44 applies');
  await p.keyboard.press('Tab');
  assert.match(await focusedId(), /^password-/);
  await p.keyboard.type('reviewer-password');
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement?.textContent), 'Approve and release');
  await p.keyboard.press('Enter');
  await p.waitForURL(`${b.url}/ui/holds`);
  assert.equal(await p.locator('form[action^="/ui/holds/"]').count(), 0, 'nothing left to decide');

  // A receives it.
  const A = await context(browser);
  await signIn(A.page, a, 'officer');
  let seen = false;
  for (let i = 0; i < 100 && !seen; i++) {
    await A.page.goto(`${a.url}/ui/requests?direction=inbound`);
    seen = (await A.page.getByRole('link', { name: '2026/BULK/1' }).count()) === 1;
    if (!seen) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(seen, 'A received the released request');
  await A.page.getByRole('link', { name: '2026/BULK/1' }).click();
  const times = await A.page.locator('dd .note').first().innerText();
  assert.match(times, /your time: .*; cert-b\.example: .*(EST|EDT|GMT-[45])/, times);
  // The held send comes back as 422, which Chromium reports once.
  const held = /status of 422/;
  assert.equal(B.errors.filter((e) => held.test(e)).length, 1, B.errors.join('\n'));
  for (const [who, errors] of [['sender', B.errors.filter((e) => !held.test(e))],
    ['reviewer', R.errors], ['recipient', A.errors]]) {
    assert.deepEqual(errors, [], `${who}: no console error, no CSP violation`);
  }
  for (const c of [A, B, R]) await c.ctx.close();
});
