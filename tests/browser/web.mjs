// Browser tests of the knoten web interface against two real councils of
// `knoten demo` (A: erika, B: jonas). usage: node web.mjs URL-A URL-B SCRATCH
import { chromium } from 'playwright-core';

const [A, B] = process.argv.slice(2);
const PASSWORD = 'knoten-demo';
const TIMEOUT = 20000;
let failures = 0, passed = 0;
function check(cond, what) {
  if (cond) { passed++; return; }
  failures++;
  console.error('FAILED: ' + what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'],
});
const dialogs = [];
async function session(base, login) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(base + 'login');
  await page.getByLabel('Benutzername').fill(login);
  await page.getByLabel('Passwort').fill(PASSWORD);
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await page.waitForURL(base);
  return { ctx, page };
}
// Reloads url until text is on the page (replication takes a moment).
async function waitForText(page, url, text, secs = 20) {
  for (let i = 0; i < secs * 2; i++) {
    await page.goto(url);
    if ((await page.content()).includes(text)) return true;
    await page.waitForTimeout(500);
  }
  return false;
}

try {
  const a = await session(A, 'erika');
  check((await a.page.textContent('h1')).includes('Willkommen'), 'start page after login on A');

  // Every visible form control has a label (new thread form, links form).
  for (const path of ['forum/new', 'links']) {
    await a.page.goto(A + path);
    const unlabelled = await a.page.$$eval('input:not([type=hidden]), textarea, select',
      (els) => els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.name));
    check(unlabelled.length === 0, 'unlabelled controls on ' + path + ': ' + unlabelled);
  }

  // Markdown preview through the safe renderer.
  await a.page.goto(A + 'forum/new');
  await a.page.getByLabel('Text (Markdown)').fill('**fett** <script>alert("preview")</script>');
  await a.page.getByRole('button', { name: 'Vorschau' }).click();
  await a.page.waitForSelector('#body-preview strong');
  check((await a.page.innerHTML('#body-preview')).includes('<strong>fett</strong>'), 'preview renders');

  // A thread on A whose title and body try to run script.
  const title = 'Frage <img src=x onerror=alert("title")> ' + Date.now();
  await a.page.goto(A + 'forum/new');
  await a.page.getByLabel('Bereich').fill('Vergaberecht');
  await a.page.getByLabel('Titel').fill(title);
  await a.page.getByLabel('Text (Markdown)').fill(
    'Hallo <script>alert("body")</script> [klick](javascript:alert("link")) <img src=x onerror=alert(1)>');
  await a.page.getByRole('button', { name: 'Veröffentlichen' }).click();
  await a.page.waitForURL(/\/forum\/[0-9a-f]{64}/);
  const threadUrl = a.page.url();
  check((await a.page.textContent('h1')) === title, 'title shown as text on A');
  check(await a.page.$('main img') === null, 'no <img> from user text on A');
  check((await a.page.$$('a[href^="javascript:"]')).length === 0, 'no javascript: link on A');

  // B sees it, replies.
  const b = await session(B, 'jonas');
  const threadPath = threadUrl.slice(A.length);
  check(await waitForText(b.page, B + 'forum', 'Frage &lt;img'), 'thread replicated to B');
  await b.page.goto(B + threadPath);
  check((await b.page.textContent('h1')) === title, 'same title on B');
  const reply = 'Antwort aus Bergdorf ' + Date.now();
  await b.page.getByLabel('Ihre Antwort (Markdown)').fill(reply);
  await b.page.getByRole('button', { name: 'Antworten' }).last().click();
  await b.page.waitForURL(/#p/);
  check((await b.page.content()).includes(reply), 'reply shown on B');
  check(await waitForText(a.page, threadUrl, reply), 'reply replicated to A');

  // A state change without the CSRF token is refused (from the page, same origin).
  const status = await a.page.evaluate(async () => {
    const r = await fetch('api/threads', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ space: 'X', title: 'ohne Token' }) });
    return r.status;
  });
  check(status === 403, 'POST without CSRF token: ' + status);

  // English is one click away.
  await a.page.goto(A);
  await a.page.getByRole('link', { name: 'English' }).click();
  await a.page.waitForSelector('text=Log out');
  check(true, 'switched to English');

  // Wrong passwords are rate limited (a fresh browser, at B).
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  let limited = false;
  for (let i = 0; i < 7 && !limited; i++) {
    await p.goto(B + 'login');
    await p.getByLabel('Benutzername').fill('jonas');
    await p.getByLabel('Passwort').fill('falsch-' + i);
    await p.getByRole('button', { name: 'Anmelden' }).click();
    await p.waitForLoadState();
    limited = (await p.content()).includes('Zu viele Fehlversuche');
  }
  check(limited, 'wrong passwords are rate limited');

  check(dialogs.length === 0, 'script ran in the browser: ' + JSON.stringify(dialogs));
} catch (e) {
  failures++;
  console.error('FAILED: ' + (e && e.stack ? e.stack : e));
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
