// Real detente nodes and a real browser for the web interface's tests.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const BIN = process.env.DETENTE_BIN;
export const SHOTS = new URL('../screenshots/', import.meta.url).pathname;

function detente(args, input) {
  return execFileSync(BIN, args, { input, encoding: 'utf8' });
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/// A node in a fresh directory with one user per role; not yet serving.
export async function makeNode(origin, country) {
  const dir = join(mkdtempSync(join(tmpdir(), 'detente-ui-')), 'node');
  const key = detente(['init', '--dir', dir, '--origin', origin, '--country', country]).trim();
  for (const [name, role] of [['officer', 'officer'], ['officer2', 'officer'],
    ['reviewer', 'reviewer'], ['auditor', 'auditor'], ['admin', 'admin']]) {
    detente(['user', '--dir', dir, 'add', name, '--role', role, '--password-stdin'], `${name}-password\n`);
  }
  const port = await freePort();
  return { origin, country, dir, key, port, url: `http://127.0.0.1:${port}` };
}

export function peer(at, other) {
  detente(['peer', 'add', '--dir', at.dir, other.origin, '--url', other.url,
    '--key', other.key, '--country', other.country]);
}

/// Serves a node until the test ends.
export async function serve(node) {
  const child = spawn(BIN, ['serve', '--dir', node.dir, '--listen', `127.0.0.1:${node.port}`],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  node.child = child;
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`${node.url}/healthz`);
      if (r.ok) return node;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${node.origin} did not start`);
}

export function stop(node) {
  node.child?.kill('SIGTERM');
  rmSync(join(node.dir, '..'), { recursive: true, force: true });
}

/// Headless Debian chromium. playwright's `launch` gives it a fresh, temporary
/// profile (it refuses a `--user-data-dir` of ours for that reason).
export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser };
}

/// A browser context whose console errors (CSP violations among them) and page
/// errors are collected, to be asserted empty.
export async function context(browser) {
  const ctx = await browser.newContext();
  const errors = [];
  ctx.on('page', (p) => watch(p, errors));
  const page = await ctx.newPage();
  watch(page, errors);
  return { ctx, page, errors };
}

function watch(page, errors) {
  if (page.__watched) return;
  page.__watched = true;
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
}

export async function signIn(page, node, user) {
  await page.goto(`${node.url}/ui/login`);
  await page.fill('#name', user);
  await page.fill('#password', `${user}-password`);
  await page.click('button[type=submit]');
  await page.waitForURL(`${node.url}/ui/`);
}

/// axe-core findings at the WCAG 2.1 AA levels.
export async function axe(page) {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21aa']).analyze();
  return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(' ')})`);
}

export function shotsDir() {
  mkdirSync(SHOTS, { recursive: true });
  return SHOTS;
}
