// The peers and reciprocity screens in a real browser: two nodes that
// exchange a request, the connection test run from the page, the charts and
// the evidence download; axe-clean, with no console error or CSP violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { makeNode, peer, serve, stop, launch, context, signIn, axe } from './lib.mjs';

// Beside the other screenshots the README shows.
const SHOTS = new URL('../../screenshots/', import.meta.url).pathname;
let a, b, browser;

before(async () => {
  a = await makeNode('cert-a.example', 'DE');
  b = await makeNode('cert-b.example', 'FR');
  peer(a, b);
  peer(b, a);
  await serve(a);
  await serve(b);
  ({ browser } = await launch());
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  for (const n of [a, b]) if (n) stop(n);
});

async function sendRequest(from, to, reference) {
  const r = await fetch(`${from.url}/api/v1/requests`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from('officer:officer-password').toString('base64')}`,
    },
    body: JSON.stringify({
      type: 'subscriber_information', reference, issuing_authority: 'Public Prosecutor',
      legal_basis: 'Budapest Convention Art. 31', offence: 'Extortion',
      facts: 'Ransom notes came from a hosted account.', data_requested: 'Subscriber records',
      link_to_offence: 'The account sent the notes', urgency: 'normal', tlp: 'amber', recipient: to.origin,
    }),
  });
  assert.equal(r.status, 201, await r.text());
}

test('peers: deliveries, cosignatures and a connection test; reciprocity: charts and evidence', async () => {
  await sendRequest(a, b, '2026/PEERS/1');
  await sendRequest(a, b, '2026/PEERS/2');
  await sendRequest(b, a, '2026/PEERS/3');
  const { ctx, page, errors } = await context(browser);
  await signIn(page, a, 'officer');

  // Deliveries and cosigning run in the background: wait until both show.
  const card = page.getByRole('region', { name: 'cert-b.example' });
  for (let i = 0; i < 100; i++) {
    await page.goto(`${a.url}/ui/peers`);
    const text = await card.innerText();
    if (!/none yet/.test(text)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.doesNotMatch(await card.innerText(), /none yet/, 'delivered and cosigned both ways');
  assert.deepEqual(await axe(page), [], 'peers');

  await card.getByRole('button', { name: 'Test the connection' }).click();
  await page.getByRole('status').waitFor();
  assert.match(await page.getByRole('status').innerText(), /Connection test passed/);
  assert.deepEqual(await axe(page), [], 'peers with a test result');
  await page.screenshot({ path: `${SHOTS}/peers.png`, fullPage: true });

  await card.getByRole('link', { name: 'Report for cert-b.example' }).click();
  await page.waitForURL(/\/ui\/reciprocity\?peer=cert-b.example$/);
  assert.equal(await page.locator('svg[role=img]').count(), 4, 'four charts');
  const sent = page.getByRole('row', { name: /^Ours to the peer/ });
  assert.match(await sent.innerText(), /^Ours to the peer\s+2\b/);
  assert.deepEqual(await axe(page), [], 'reciprocity');
  await page.screenshot({ path: `${SHOTS}/reciprocity.png`, fullPage: true });

  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: /evidence bundle/ }).click();
  const file = await download;
  assert.match(file.suggestedFilename(), /^evidence-cert-b\.example-\d{8}\.json$/);
  assert.deepEqual(errors, [], 'no console error, no CSP violation');
  await ctx.close();
});
