// Notifications in a real browser: B's officer sees A's new request on the
// notifications page, marks it read, and edits the settings; an admin opens
// another user's settings. axe on each screen, no console error.
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

async function sendRequest(reference) {
  const r = await fetch(`${a.url}/api/v1/requests`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from('officer:officer-password').toString('base64')}`,
    },
    body: JSON.stringify({
      type: 'subscriber_information', reference, issuing_authority: 'Public Prosecutor',
      legal_basis: 'Budapest Convention Art. 31', offence: 'Extortion',
      facts: 'A ransom portal was hosted on the account.', data_requested: 'Subscriber records',
      link_to_offence: 'The account hosted the portal', urgency: 'normal', tlp: 'amber',
      recipient: b.origin,
    }),
  });
  assert.equal(r.status, 201, await r.text());
}

test('the officer sees a new request among the notifications and marks it read', async () => {
  const { ctx, page, errors } = await context(browser);
  await sendRequest('2026/NOTE/1');
  await signIn(page, b, 'officer');
  const link = page.getByRole('link', { name: /New request 2026\/NOTE\/1/ });
  for (let i = 0; i < 100 && !(await link.count()); i++) {
    await new Promise((r) => setTimeout(r, 100));
    await page.goto(`${b.url}/ui/notifications`);
  }
  assert.equal(await link.count(), 1);
  assert.match(await page.locator('#badge-notices').innerText(), /^1/);
  assert.deepEqual(await axe(page), [], 'notifications');
  await page.screenshot({ path: `${shotsDir()}/notifications.png`, fullPage: true });
  await page.getByRole('button', { name: /Mark read/ }).first().click();
  await page.waitForURL(`${b.url}/ui/notifications`);
  assert.equal(await page.getByText('Unread', { exact: true }).count(), 0);
  assert.equal(await page.locator('#badge-notices').isHidden(), true);

  await page.getByRole('link', { name: /What you receive/ }).click();
  await page.fill('#f-webhook', 'ftp://hooks.example/x');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#f-webhook-error').waitFor();
  assert.deepEqual(await axe(page), [], 'settings with an error');
  await page.fill('#f-webhook', '');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').waitFor();
  assert.deepEqual(await axe(page), [], 'settings');
  await page.screenshot({ path: `${shotsDir()}/notification-settings.png`, fullPage: true });
  // The refused form comes back as 422, which Chromium reports on the console
  // once; anything else there is a failure.
  const expected = /status of 422 \(Unprocessable Entity\)/;
  assert.equal(errors.filter((e) => expected.test(e)).length, 1, errors.join('\n'));
  assert.deepEqual(errors.filter((e) => !expected.test(e)), [], 'no other console error, no CSP violation');
  await ctx.close();
});

test('an admin opens another user\'s settings', async () => {
  const { ctx, page, errors } = await context(browser);
  await signIn(page, b, 'admin');
  await page.goto(`${b.url}/ui/notifications/settings`);
  await page.selectOption('#f-who', 'reviewer');
  await page.getByRole('button', { name: 'Show their settings' }).click();
  await page.getByRole('heading', { name: 'Notification settings of reviewer' }).waitFor();
  assert.equal(await page.isChecked('#k-transfer\\.held'), true, 'reviewers get held transfers');
  assert.deepEqual(await axe(page), [], 'admin settings');
  assert.deepEqual(errors, [], 'no console error, no CSP violation');
  await ctx.close();
});
