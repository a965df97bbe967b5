// The interface in a real browser: two nodes, officers in two contexts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeNode, peer, serve, stop, launch, context, signIn, axe, shotsDir } from './lib.mjs';

let a, b, browser;

before(async () => {
  a = await makeNode('cert-a.example', 'DE');
  b = await makeNode('cert-b.example', 'FR');
  peer(a, b);
  peer(b, a);
  await serve(a);
  await serve(b);
  ({ browser } = await launch());
});

after(async () => {
  await browser?.close();
  for (const n of [a, b]) if (n) stop(n);
});

test('sign-in works with the keyboard alone and every screen passes axe', async () => {
  const { ctx, page, errors } = await context(browser);
  const shots = shotsDir();
  await page.goto(`${a.url}/ui/login`);
  assert.deepEqual(await axe(page), [], 'login');
  await page.screenshot({ path: `${shots}/login.png`, fullPage: true });
  await page.keyboard.press('Tab'); // the user name is the first field
  await page.keyboard.type('officer');
  await page.keyboard.press('Tab');
  await page.keyboard.type('officer-password');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${a.url}/ui/`);
  for (const [path, name] of [['/ui/', 'home'], ['/ui/requests', 'requests'],
    ['/ui/compose', 'compose'], ['/ui/holds', 'holds'], ['/ui/sessions', 'sessions']]) {
    await page.goto(`${a.url}${path}`);
    assert.deepEqual(await axe(page), [], path);
    await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  }
  assert.deepEqual(errors, [], 'no console error, no CSP violation');
  await ctx.close();
});

test('A composes with a gate preview; B acknowledges and answers; A sees the answer', async () => {
  const A = await context(browser);
  const B = await context(browser);
  const shots = shotsDir();
  await signIn(A.page, a, 'officer');
  await A.page.goto(`${a.url}/ui/compose?type=subscriber_information`);
  await A.page.selectOption('#f-recipient', 'cert-b.example');
  await A.page.fill('#f-reference', '2026/UI/1');
  await A.page.fill('#f-issuing_authority', 'Public Prosecutor');
  await A.page.fill('#f-legal_basis', 'Budapest Convention Art. 31');
  await A.page.fill('#f-offence', 'Extortion');
  await A.page.fill('#f-facts', 'Ransom notes came from extortion@example.com.');
  await A.page.fill('#f-data_requested', 'Subscriber records');
  await A.page.fill('#f-link_to_offence', 'The address sent the notes');
  await A.page.click('button[value=preview]');
  await A.page.getByRole('heading', { name: /Gate preview/ }).waitFor();
  assert.deepEqual(await axe(A.page), [], 'preview');
  await A.page.screenshot({ path: `${shots}/compose-preview.png`, fullPage: true });
  await A.page.click('button[value=send]');
  await A.page.waitForURL(/\/ui\/requests\/[0-9a-f-]+$/);
  const path = new URL(A.page.url()).pathname;

  await signIn(B.page, b, 'officer');
  for (let i = 0; i < 100; i++) {
    await B.page.goto(`${b.url}/ui/`);
    if (await B.page.getByRole('link', { name: '2026/UI/1' }).count()) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(await axe(B.page), [], 'home with work');
  await B.page.screenshot({ path: `${shots}/waiting-on-me.png`, fullPage: true });
  await B.page.getByRole('link', { name: '2026/UI/1' }).first().click();
  await B.page.getByRole('button', { name: 'Acknowledge' }).click();
  await B.page.fill('#answer-note', 'The account belongs to a shell company; records attached by post.');
  await B.page.getByRole('button', { name: 'Send the final answer' }).click();
  await B.page.waitForURL(`${b.url}${path}`);
  assert.match(await B.page.locator('dl.fields').first().innerText(), /answered/);
  assert.deepEqual(await axe(B.page), [], 'detail');
  await B.page.screenshot({ path: `${shots}/request-detail.png`, fullPage: true });

  let status = '';
  for (let i = 0; i < 100 && !/answered/.test(status); i++) {
    await A.page.goto(`${a.url}${path}`);
    status = await A.page.locator('dl.fields').first().innerText();
    if (!/answered/.test(status)) await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(status, /answered/, 'A sees the answer');
  assert.deepEqual(A.errors, [], 'A: no console error');
  assert.deepEqual(B.errors, [], 'B: no console error');
  await A.ctx.close();
  await B.ctx.close();
});
