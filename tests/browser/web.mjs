// Browser tests of the knoten web interface against two real councils of
// `knoten demo` (A: erika, B: jonas). usage: node web.mjs URL-A URL-B SCRATCH
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';

const [A, B, SCRATCH] = process.argv.slice(2);
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
// A small valid PDF with one page showing text.
function pdf(text) {
  const content = `BT /F1 24 Tf 72 720 Td (${text}) Tj ET`;
  const objs = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R ' +
      '/Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'];
  let out = '%PDF-1.4\n';
  const offs = [];
  objs.forEach((o, i) => { offs.push(out.length); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const x = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  offs.forEach((o) => { out += String(o).padStart(10, '0') + ' 00000 n \n'; });
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${x}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
// Status of a fetch from the page (same origin, with the session cookie).
async function fetchStatus(page, url, init) {
  return page.evaluate(async ([u, i]) => (await fetch(u, i)).status, [url, init || {}]);
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
  for (const path of ['forum/new', 'links', 'polls/new', 'events/new', 'messages', 'search?q=x']) {
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

  // What a council's node signed itself (the demo's sample link from Bergdorf) is by the
  // council's name, not by a key: "von Gemeinde Bergdorf", never "von b92c942da19c… (…)".
  check(await waitForText(a.page, A + 'links', 'von Gemeinde Bergdorf,'), 'link by a council on A');
  check(!/von [0-9a-f]{12}\u2026 \(/.test(await a.page.textContent('main')),
    'no key before a council name on A links');

  // The administration page speaks the page's language and names the councils.
  check(await waitForText(a.page, A + 'admin', 'verbunden'), 'peer state in German on A admin');
  const admin = await a.page.textContent('main');
  check(await a.page.$('footer a[href="metrics"]') !== null, 'metrics link for an administrator');
  check(admin.includes('Gemeinde Bergdorf') && admin.includes('Mitglied') && admin.includes('eingelöst')
    && !/\b(connected|member|founder|used)\b/.test(admin), 'admin page: ' + admin.slice(0, 300));

  // A state change without the CSRF token is refused (from the page, same origin).
  const status = await a.page.evaluate(async () => {
    const r = await fetch('api/threads', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ space: 'X', title: 'ohne Token' }) });
    return r.status;
  });
  check(status === 403, 'POST without CSRF token: ' + status);

  // ---- documents: upload a PDF on A with progress, see it on B, download ----
  const pdfBytes = pdf('Checkliste Vergabe ' + Date.now());
  const evilName = 'Checkliste "<img src=x onerror=alert(\'datei\')>".pdf';
  writeFileSync(SCRATCH + '/upload.pdf', pdfBytes);
  await a.page.goto(A + 'docs/new');
  const unlabelledDoc = await a.page.$$eval('input:not([type=hidden]), textarea, select',
    (els) => els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.name));
  check(unlabelledDoc.length === 0, 'unlabelled controls on docs/new: ' + unlabelledDoc);
  // An empty file (a failed export) is refused on the page before anything is uploaded.
  await a.page.getByLabel('Dateien').setInputFiles({ name: 'Bescheid leer.pdf',
    mimeType: 'application/pdf', buffer: Buffer.alloc(0) });
  await a.page.getByLabel('Titel').fill('Leer');
  await a.page.getByLabel('Bereich').fill('Vergaberecht');
  await a.page.getByRole('button', { name: 'Veröffentlichen' }).click();
  await a.page.waitForSelector('#upload-error:not([hidden])');
  check((await a.page.textContent('#upload-error')).includes('„Bescheid leer.pdf“ ist leer (0 Bytes)'),
    'an empty file is refused with its name');
  check(a.page.url().endsWith('/docs/new'), 'an empty file publishes nothing');
  await a.page.getByLabel('Dateien').setInputFiles({ name: evilName, mimeType: 'application/pdf',
    buffer: pdfBytes });
  const docTitle = 'Checkliste Vergabe <script>alert("doc")</script> ' + Date.now();
  await a.page.getByLabel('Titel').fill(docTitle);
  await a.page.getByLabel('Bereich').fill('Vergaberecht');
  await a.page.getByLabel('Art').selectOption('checklist');
  // The first piece is lost on the way (as when the node restarts): the page says so,
  // asks the node where the upload stands and sends the piece again.
  let cut = 0;
  await a.page.route(/api\/uploads\/[0-9a-f]{32}\?offset=/, (route) => {
    if (cut++ === 0) return route.abort('connectionreset');
    return route.continue();
  });
  await a.page.getByRole('button', { name: 'Veröffentlichen' }).click();
  await a.page.waitForFunction(() => /Verbindung zum Knoten unterbrochen/.test(
    document.getElementById('upload-status').textContent));
  await a.page.waitForURL(/\/docs\/[0-9a-f]{64}\?published=1/);
  await a.page.unroute(/api\/uploads\/[0-9a-f]{32}\?offset=/);
  check(cut === 2, 'the lost piece was sent again once: ' + cut);
  const docUrl = a.page.url().replace(/\?.*$/, '');
  const docPath = docUrl.slice(A.length);
  check((await a.page.textContent('h1')) === docTitle, 'doc title shown as text on A');
  check((await a.page.content()).includes('&lt;img src=x onerror=alert'), 'file name escaped on A');
  check(await a.page.$('main img') === null, 'no <img> from the file name on A');
  const dlA = a.page.waitForEvent('download');
  await a.page.getByRole('link', { name: evilName }).click();
  const fileA = readFileSync(await (await dlA).path());
  check(Buffer.compare(fileA, pdfBytes) === 0, 'download on A is byte-identical');
  check((await dlA).suggestedFilename().endsWith('.pdf'), 'download keeps the .pdf name');
  const docId = docPath.split('/')[1];
  check(await fetchStatus(a.page, 'api/docs/' + docId + '/files/1') === 404, 'file index out of range');
  for (const bad of ['..%2f..%2fidentity.key', '%2e%2e/%2e%2e/identity.key', '0/../../../../identity.key']) {
    const st = await fetchStatus(a.page, 'api/docs/' + docId + '/files/' + bad);
    check(st === 400 || st === 404, 'download path cannot leave its blob: ' + bad + ' ' + st);
  }
  check(await fetchStatus(a.page, 'api/docs/' + '0'.repeat(64) + '/files/0') === 404, 'unknown doc');
  check(await fetchStatus(a.page, 'api/uploads', { method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'x.pdf', size: 1 }) }) === 403, 'upload without CSRF token refused');
  check(await waitForText(b.page, B + 'docs', 'Checkliste Vergabe &lt;script&gt;'), 'doc listed on B');
  await b.page.goto(B + docPath);
  check((await b.page.textContent('h1')) === docTitle, 'doc page on B');
  // B fetches the file from A; once it is there the page links it, and it downloads byte-identical.
  let fetched = false;
  for (let i = 0; i < 60 && !fetched; i++) {
    await b.page.goto(B + docPath);
    fetched = await b.page.getByRole('link', { name: evilName }).count() === 1;
    if (!fetched) await b.page.waitForTimeout(500);
  }
  check(fetched, 'B fetched the file from A');
  if (fetched) {
    const dlB = b.page.waitForEvent('download');
    await b.page.getByRole('link', { name: evilName }).click();
    const fileB = readFileSync(await (await dlB).path());
    check(Buffer.compare(fileB, pdfBytes) === 0, 'download on B is byte-identical');
  }
  // The search box in the header finds it on B.
  await b.page.getByRole('searchbox', { name: 'Suche' }).first().fill('Checkliste Vergabe');
  await b.page.keyboard.press('Enter');
  await b.page.waitForURL(/\/search\?q=/);
  check(await b.page.locator('a[href="' + docPath + '"]').count() === 1, 'search on B finds the doc');

  // ---- polls: vote on A and on B, both show the same results ----
  await a.page.goto(A + 'polls/new');
  const question = 'Wann führen Sie die E-Akte ein? ' + Date.now();
  await a.page.getByLabel('Bereich').fill('Umfragen');
  await a.page.getByLabel('Frage').fill(question);
  await a.page.getByLabel('Antworten (eine je Zeile)').fill('2025\n2026\nSpäter');
  await a.page.getByLabel('Abstimmung bis (einschließlich)').fill('2099-12-31');
  await a.page.getByRole('button', { name: 'Veröffentlichen' }).click();
  await a.page.waitForURL(/\/polls\/[0-9a-f]{64}/);
  const pollPath = a.page.url().slice(A.length);
  await a.page.getByLabel('2026').check();
  await a.page.getByRole('button', { name: 'Abstimmen' }).click();
  await a.page.waitForURL(/voted=1/);
  check(await waitForText(b.page, B + pollPath, question), 'poll replicated to B');
  await b.page.getByLabel('Später').check();
  check(await fetchStatus(b.page, 'api/' + pollPath + '/vote', { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: '{"choices":[0]}' }) === 403,
    'vote without CSRF token refused');
  await b.page.getByRole('button', { name: 'Abstimmen' }).click();
  await b.page.waitForURL(/voted=1/);
  const results = async (page, base) => {
    await page.goto(base + pollPath);
    return page.$$eval('table.results td.num', (tds) => tds.map((t) => t.textContent).join(','));
  };
  let same = false;
  for (let i = 0; i < 40 && !same; i++) {
    const ra = await results(a.page, A), rb = await results(b.page, B);
    same = ra === '0,1,1' && rb === ra;
    if (!same) await a.page.waitForTimeout(500);
  }
  check(same, 'A and B show the same poll results (0,1,1)');

  // ---- events: created on A, RSVP on B, seen on A ----
  await a.page.goto(A + 'events/new');
  const evTitle = 'Arbeitstreffen Vergabe ' + Date.now();
  await a.page.getByLabel('Bereich').fill('Termine');
  await a.page.getByLabel('Titel').fill(evTitle);
  await a.page.getByLabel('Beginn').fill('2030-03-05T10:00');
  await a.page.getByLabel('Ende').fill('2030-03-05T12:00');
  await a.page.getByLabel('Ort').fill('Rathaus Musterstadt');
  await a.page.getByRole('button', { name: 'Veröffentlichen' }).click();
  await a.page.waitForURL(/\/events\/[0-9a-f]{64}$/);
  const evPath = a.page.url().slice(A.length);
  check((await a.page.content()).includes('2030-03-05 10:00 - 12:00 Europe/Berlin'), 'event time');
  check(await waitForText(b.page, B + evPath, evTitle), 'event replicated to B');
  check(await fetchStatus(b.page, 'api/' + evPath + '/rsvp', { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: '{"status":"yes"}' }) === 403,
    'RSVP without CSRF token refused');
  await b.page.getByLabel('Ja').check();
  await b.page.getByRole('button', { name: 'Antwort senden' }).click();
  await b.page.waitForURL(/answered=1/);
  check(await waitForText(a.page, A + evPath, 'Ja: 1'), 'the RSVP from B reaches A');
  await a.page.goto(A + 'events?month=2030-03');
  check((await a.page.content()).includes(evTitle), 'event in the calendar of March 2030');
  const ics = await a.page.evaluate(async (p) => (await fetch('api/' + p + '/ics')).text(), evPath);
  check(ics.startsWith('BEGIN:VCALENDAR') && ics.includes('Arbeitstreffen Vergabe'), 'ics download');

  // ---- the event edited on A (a new version, as `knoten event --edit`): B sees it, the RSVP stays ----
  check(await b.page.goto(B + evPath).then(() => b.page.getByRole('link', { name: 'Termin bearbeiten' })
    .count()) === 0, 'no edit link for someone else\'s event');
  check(await fetchStatus(b.page, evPath + '/edit') === 403, 'someone else\'s event cannot be edited');
  await a.page.goto(A + evPath);
  await a.page.getByRole('link', { name: 'Termin bearbeiten' }).click();
  await a.page.waitForURL(/\/edit$/);
  const unlabelledEv = await a.page.$$eval('input:not([type=hidden]), textarea, select',
    (els) => els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.name));
  check(unlabelledEv.length === 0, 'unlabelled controls on the event edit form: ' + unlabelledEv);
  check(await a.page.getByLabel('Titel').inputValue() === evTitle, 'the form has the title');
  check(await a.page.getByLabel('Beginn').inputValue() === '2030-03-05T10:00', 'the form has the start');
  check(await a.page.getByLabel('Ort').inputValue() === 'Rathaus Musterstadt', 'the form has the place');
  await a.page.getByLabel('Beginn').fill('2030-03-05T14:00');
  await a.page.getByLabel('Ende').fill('2030-03-05T16:30');
  await a.page.getByLabel('Ort').fill('Rathaus Musterstadt, Saal 2 <b>neu</b>');
  await a.page.getByRole('button', { name: 'Neue Fassung speichern' }).click();
  await a.page.waitForURL((u) => /\/events\/[0-9a-f]{64}$/.test(u.pathname) && !u.pathname.endsWith(evPath));
  const ev2Path = a.page.url().slice(A.length);
  const ev2 = await a.page.content();
  check(ev2.includes('2030-03-05 14:00 - 16:30 Europe/Berlin') && ev2.includes('Saal 2 &lt;b&gt;neu'),
    'the new version on A');
  check(ev2.includes('Ja: 1'), 'the RSVP of the first version counts for the new one');
  await a.page.goto(A + evPath);
  check((await a.page.content()).includes(ev2Path.split('/')[1]), 'the old version links the newest');
  check(await fetchStatus(a.page, evPath + '/edit') === 409, 'an old version cannot be edited');
  check(await waitForText(b.page, B + ev2Path, 'Saal 2'), 'the new version replicated to B');

  // ---- erika edits her thread and a link of hers on A (new versions, as `knoten thread|link --edit`) ----
  await b.page.goto(B + threadPath);
  check(await b.page.locator('article.thread').getByRole('link', { name: 'Bearbeiten' }).count() === 0,
    'no edit link on someone else\'s thread');
  check(await fetchStatus(b.page, 'objects/' + threadPath.split('/')[1] + '/edit') === 403,
    'someone else\'s thread cannot be edited');
  await a.page.goto(threadUrl);
  await a.page.locator('article.thread').getByRole('link', { name: 'Bearbeiten' }).click();
  await a.page.waitForURL(/\/objects\/[0-9a-f]{64}\/edit$/);
  const unlabelledTh = await a.page.$$eval('input:not([type=hidden]), textarea, select',
    (els) => els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.name));
  check(unlabelledTh.length === 0, 'unlabelled controls on the thread edit form: ' + unlabelledTh);
  check(await a.page.getByLabel('Titel').inputValue() === title, 'the thread form has the title');
  check((await a.page.getByLabel('Text (Markdown)').inputValue()).startsWith('Hallo <script>'),
    'the thread form has the text');
  const title2 = 'Frage korrigiert ' + Date.now();
  await a.page.getByLabel('Titel').fill(title2);
  await a.page.getByLabel('Text (Markdown)').fill('Hallo, jetzt **ohne** Tippfehler');
  await a.page.getByRole('button', { name: 'Neue Fassung speichern' }).click();
  await a.page.waitForURL((u) => /\/forum\/[0-9a-f]{64}$/.test(u.pathname) && u.href !== threadUrl);
  check((await a.page.textContent('h1')) === title2, 'the edited thread on A');
  check((await a.page.innerHTML('article.thread')).includes('<strong>ohne</strong>'), 'edited text rendered');
  check((await a.page.content()).includes(reply), 'the reply stays with the edited thread');
  await a.page.goto(A + 'forum');
  const forumA = await a.page.content();
  check(forumA.includes(title2) && !forumA.includes('Frage &lt;img'), 'the forum lists only the new title');
  check(await waitForText(b.page, B + 'forum', title2), 'the edited thread replicated to B');

  const linkTitle = 'Vergabehandbch ' + Date.now();
  await a.page.goto(A + 'links');
  await a.page.getByLabel('Bereich').fill('Vergaberecht');
  await a.page.getByLabel('Titel').fill(linkTitle);
  await a.page.getByLabel('Adresse (http:// oder https://)').fill('https://example.org/handbuch');
  await a.page.getByRole('button', { name: 'Veröffentlichen' }).click();
  await a.page.waitForURL(/\/links#l[0-9a-f]{16}$/);
  const linkItem = '#' + new URL(a.page.url()).hash.slice(1);
  await a.page.locator(linkItem).getByRole('link', { name: 'Bearbeiten' }).click();
  await a.page.waitForURL(/\/objects\/[0-9a-f]{64}\/edit$/);
  check(await a.page.getByLabel('Titel').inputValue() === linkTitle, 'the link form has the title');
  check(await a.page.getByLabel('Adresse (http:// oder https://)').inputValue() ===
    'https://example.org/handbuch', 'the link form has the address');
  const linkTitle2 = 'Vergabehandbuch ' + Date.now();
  await a.page.getByLabel('Titel').fill(linkTitle2);
  await a.page.getByRole('button', { name: 'Neue Fassung speichern' }).click();
  await a.page.waitForURL(/\/links#l[0-9a-f]{16}$/);
  const linksA = await a.page.content();
  check(linksA.includes(linkTitle2) && !linksA.includes(linkTitle), 'the links page shows only the new title');

  // ---- erika withdraws the link: a confirmation page first (no script), Cancel keeps it ----
  const linkItem2 = '#' + new URL(a.page.url()).hash.slice(1);
  const toConfirm = async () => {
    await a.page.goto(A + 'links');
    await a.page.locator(linkItem2).getByRole('link', { name: 'Zurückziehen' }).click();
    await a.page.waitForURL(/\/objects\/[0-9a-f]{64}\/retract$/);
  };
  await toConfirm();
  check((await a.page.textContent('h1')) === 'Zurückziehen bestätigen', 'the confirmation page');
  const confirmText = await a.page.textContent('main');
  check(confirmText.includes(linkTitle2) && confirmText.includes('nicht rückgängig'),
    'the confirmation page names the link and says it cannot be undone');
  const unlabelledR = await a.page.$$eval('main input:not([type=hidden]), main textarea, main select',
    (els) => els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.name));
  check(unlabelledR.length === 0, 'unlabelled controls on the confirmation page: ' + unlabelledR);
  await a.page.getByLabel(/^Grund/).focus();
  const focused = async () => a.page.evaluate(() => document.activeElement.textContent.trim());
  await a.page.keyboard.press('Tab');
  check(await focused() === 'Zurückziehen', 'Tab from the reason goes to Withdraw: ' + await focused());
  await a.page.keyboard.press('Tab');
  check(await focused() === 'Abbrechen', 'then to Cancel: ' + await focused());
  await a.page.getByRole('link', { name: 'Abbrechen' }).click();
  await a.page.waitForURL(/\/links#l[0-9a-f]{16}$/);
  check((await a.page.content()).includes(linkTitle2), 'after Cancel the link is still there');
  await toConfirm();
  await a.page.getByLabel(/^Grund/).fill('veraltet');
  await a.page.getByRole('button', { name: 'Zurückziehen' }).click();
  await a.page.waitForURL(/\/links$/);
  check(!(await a.page.content()).includes('Vergabehandb'), 'the withdrawn link is gone, every version');

  // ---- a direct message from A (erika) to B (jonas), read on B ----
  // The directory says which council each person works for, and finds people by it.
  await a.page.goto(A + 'people?q=Bergdorf');
  check((await a.page.locator('tr', { hasText: 'Jonas Beispiel' }).textContent()).includes('Gemeinde Bergdorf')
    && !(await a.page.content()).includes('Aylin Demir'), 'the directory by council');
  await a.page.goto(A + 'people');
  const secret = 'Vertraulich ' + Date.now() + ' <img src=x onerror=alert("dm")>';
  const row = a.page.locator('tr', { hasText: 'Jonas Beispiel' });
  await row.getByRole('link', { name: 'Nachricht schreiben' }).click();
  await a.page.getByLabel('Nachricht', { exact: true }).fill(secret);
  await a.page.getByRole('button', { name: 'Senden' }).click();
  await a.page.waitForURL(/sent=1/);
  check(await fetchStatus(a.page, 'api/messages', { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: '{"to":"' + '0'.repeat(64) + '","body":"x"}' })
    === 403, 'message without CSRF token refused');
  let read = false;
  for (let i = 0; i < 40 && !read; i++) {
    await b.page.goto(B + 'messages');
    const link = b.page.getByRole('link', { name: /Erika Muster/ });
    if (await link.count()) {
      await link.first().click();
      read = (await b.page.textContent('main')).includes(secret);
    }
    if (!read) await b.page.waitForTimeout(500);
  }
  check(read, 'jonas reads the message on B');
  check(await b.page.$('main img') === null, 'no <img> from the message on B');

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
