// The threat-intelligence and admin screens in a real browser: axe finds no
// violation on any of them (error states included), no console error, and
// the screenshots of both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { makeNode, peer, serve, stop, launch, context, signIn, axe, shotsDir } from './lib.mjs';

let a, b, browser, collection;

function indicator(id, modified, cites) {
  return {
    type: 'indicator', spec_version: '2.1', id, created: '2026-03-01T10:00:00.000Z', modified,
    name: 'C2 of the extortion campaign', pattern: "[ipv4-addr:value = '198.51.100.7']",
    pattern_type: 'stix', valid_from: '2026-03-01T10:00:00Z',
    external_references: cites.map((r) => ({ source_name: 'detente-request', external_id: r })),
  };
}

before(async () => {
  a = await makeNode('cert-a.example', 'DE');
  b = await makeNode('cert-b.example', 'BR');
  peer(a, b);
  collection = execFileSync(process.env.DETENTE_BIN, ['collection', '--dir', a.dir, 'add',
    '--title', 'Shared with cert-b', '--description', 'Indicators sent with requests',
    '--read', 'cert-b.example,officer', '--write', 'officer'], { encoding: 'utf8' }).trim();
  await serve(a);
  const r = await fetch(`${a.url}/taxii2/api/collections/${collection}/objects/`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('officer:officer-password').toString('base64')}`,
      'content-type': 'application/taxii+json;version=2.1',
      accept: 'application/taxii+json;version=2.1',
    },
    body: JSON.stringify({ objects: [
      indicator('indicator--a932fcc6-e032-476c-826f-cb970a5a1ade', '2026-03-01T10:00:00.000Z', []),
      indicator('indicator--a932fcc6-e032-476c-826f-cb970a5a1ade', '2026-03-02T10:00:00.000Z', ['request-at-another-node']),
    ] }),
  });
  assert.equal(r.status, 202, await r.text());
  ({ browser } = await launch());
});

after(async () => {
  await browser?.close();
  for (const n of [a, b]) if (n) stop(n);
});

test('the threat-intelligence screens show the collection and pass axe', async () => {
  const { ctx, page, errors } = await context(browser);
  const shots = shotsDir();
  await signIn(page, a, 'officer');
  await page.getByRole('link', { name: 'Threat intelligence' }).click();
  await page.getByRole('heading', { name: 'Threat intelligence' }).waitFor();
  const row = page.getByRole('row', { name: /Shared with cert-b/ });
  assert.match(await row.innerText(), /\b1\s+2\b/, 'one object, two versions');
  assert.deepEqual(await axe(page), [], '/ui/intel');
  await page.screenshot({ path: `${shots}/intel.png`, fullPage: true });
  await row.getByRole('link', { name: 'Shared with cert-b' }).click();
  await page.getByRole('heading', { name: 'Requests its objects cite' }).waitFor();
  assert.match(await page.content(), /request-at-another-node/);
  assert.deepEqual(await axe(page), [], '/ui/intel/{id}');
  assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0, 'officers see no admin link');
  assert.deepEqual(errors, [], 'no console error, no CSP violation');
  await ctx.close();
});

test('every admin screen passes axe, errors beside their fields included', async () => {
  const { ctx, page, errors } = await context(browser);
  const shots = shotsDir();
  await signIn(page, a, 'admin');
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: 'Users and roles' }).waitFor();
  assert.deepEqual(await axe(page), [], '/ui/admin');
  await page.screenshot({ path: `${shots}/admin.png`, fullPage: true });

  // A password too short comes back beside its field, the form kept.
  await page.fill('#f-name', 'liaison');
  await page.selectOption('#f-role', 'officer');
  await page.fill('#f-password', 'short');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.locator('#f-password-error').waitFor();
  assert.equal(await page.inputValue('#f-name'), 'liaison');
  assert.deepEqual(await axe(page), [], 'add user, with an error');
  await page.fill('#f-password', 'a passphrase long enough');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('cell', { name: 'liaison', exact: true }).waitFor();

  // The last admin stays.
  await page.getByRole('button', { name: 'Remove admin' }).click();
  await page.getByText('This is the last admin').waitFor();
  assert.deepEqual(await axe(page), [], 'last admin refused');

  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.fill('#f-label', 'nightly TAXII pull');
  await page.selectOption('#f-owner', 'auditor');
  await page.getByRole('button', { name: 'Issue token' }).click();
  const secret = await page.locator('#token-secret').innerText();
  assert.equal(secret.length, 43);
  assert.deepEqual(await axe(page), [], 'token issued');
  await page.getByRole('link', { name: 'Tokens' }).click();
  assert.doesNotMatch(await page.content(), new RegExp(secret), 'shown once');

  for (const [name, heading] of [['Sessions', "Everyone's sessions"],
    ['Node keys and gate', 'Node keys and gate profile']]) {
    await page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name }).click();
    await page.getByRole('heading', { name: heading }).waitFor();
    assert.deepEqual(await axe(page), [], name);
  }
  assert.match(await page.locator('#verifier-key').innerText(), /^cert-a\.example\+/);
  await page.fill('#f-country', 'Japan');
  await page.getByRole('button', { name: 'Show what applies' }).click();
  await page.locator('#f-country-error').waitFor();
  assert.deepEqual(await axe(page), [], 'country lookup, with an error');
  // Chromium logs the status of each refused form's page (422, 409): those
  // three are the refusals above; anything else is an error.
  const refused = /^Failed to load resource: the server responded with a status of (422|409) /;
  assert.equal(errors.filter((e) => refused.test(e)).length, 3);
  assert.deepEqual(errors.filter((e) => !refused.test(e)), [], 'no console error, no CSP violation');
  await ctx.close();
});
