// The /ops test's steps for the door and the presale invitations of one
// queue (tests/browser/ops.mjs runs them on its page, token entered): the
// challenge turned on with a complexity after a confirmation and off again,
// a complexity out of range caught on the page and one the server refuses
// shown with its message, the join limits set and put back to the defaults,
// each checked through the admin API; then a batch of invitation codes made,
// listed with their uses left, and both CSV files downloaded.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

// { page, base, queue, api, queueOf, until, begin, shot, wait }
export async function doorAndInvitations({ page, base, queue, api, queueOf, until, begin, shot, wait }) {
  const status = (id, text) => page.waitForFunction(
    ([selector, wanted]) => document.querySelector(selector).textContent.includes(wanted), [id, text], wait,
  );
  const challengeUrl = `${base}/queues/${queue}/challenge`;

  begin(`the door of ${queue}: a complexity out of range is caught on the page`);
  await page.click(`#queue-rows tr[data-queue="${queue}"] button`);
  await page.waitForFunction((name) => document.querySelector('#detail-name').textContent === name, queue, wait);
  assert.equal((await queueOf(queue)).settings.challenge, null, `${queue} asks for a challenge already: use a fresh server`);
  await status('#door-summary', 'Asks for no proof of work');
  assert.equal(await page.isChecked('#in-challenge'), false);
  await page.check('#in-challenge');
  await page.fill('#in-complexity', '1');
  assert.match(await page.textContent('#complexity-estimate'), /Not a whole number from 2 to 10,000,000/);
  await page.click('#challenge-form button[type="submit"]');
  await page.waitForSelector('#door-error:not([hidden])', wait);
  assert.match(await page.textContent('#door-error'), /from 2 to 10,000,000/);
  assert.ok(!(await page.locator('#confirm-challenge').isVisible()), 'no confirmation for a refused value');

  begin('a complexity the server refuses is shown with its message (the page\'s check bypassed)');
  await page.fill('#in-complexity', '60000');
  assert.match(await page.textContent('#complexity-estimate'), /30,000 to 60,000 key derivations a solve: about 2 s/);
  const patch = `**/admin/queues/${queue}`;
  await page.route(patch, (route) => route.request().method() === 'PATCH'
    ? route.continue({ postData: JSON.stringify({ challenge: { kind: 'altcha', complexity: 10_000_001 } }) })
    : route.continue());
  await page.click('#challenge-form button[type="submit"]');
  await page.click('#challenge-yes');
  await page.waitForFunction(() => /INVALID_SETTING/.test(document.querySelector('#door-error').textContent), null, wait);
  assert.match(await page.textContent('#door-error'), /challenge\.complexity must be between 2 and 10000000/);
  await page.unroute(patch);
  assert.equal((await queueOf(queue)).settings.challenge, null, 'refused: no challenge');

  begin('the challenge on with a complexity: asks first, then the API and the door show it');
  await page.click('#challenge-form button[type="submit"]');
  await page.waitForSelector('#confirm-challenge[open]', wait);
  assert.equal(await page.textContent('#challenge-queue'), queue);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.querySelector('#confirm-challenge').open, null, wait);
  assert.equal((await queueOf(queue)).settings.challenge, null, 'cancelled: still no challenge');
  await page.click('#challenge-form button[type="submit"]');
  await page.click('#challenge-yes');
  await status('#door-status', 'challenge on: ALTCHA, complexity 60,000');
  assert.deepEqual((await queueOf(queue)).settings.challenge, { kind: 'altcha', complexity: 60000 }, 'challenge through the API');
  await status('#door-summary', 'complexity 60,000');
  await until(`GET /queues/${queue}/challenge issuing one`, async () => (await fetch(challengeUrl)).status === 200, 30_000, 200);
  await shot('door');

  begin('the challenge off (no confirmation needed)');
  await page.uncheck('#in-challenge');
  await page.click('#challenge-form button[type="submit"]');
  await status('#door-status', 'challenge off');
  assert.equal((await queueOf(queue)).settings.challenge, null, 'no challenge through the API');
  await until(`GET /queues/${queue}/challenge answering 404 CHALLENGE_OFF`, async () => {
    const answer = await fetch(challengeUrl);
    return answer.status === 404 && (await answer.json()).code === 'CHALLENGE_OFF';
  }, 30_000, 200);
  await page.waitForFunction(() => /challenge off/.test(document.querySelector('#events').textContent), null, wait);
  assert.match(await page.textContent('#events'), /challenge on: ALTCHA, complexity 60,000/);

  begin('the join limits: set, then back to the defaults');
  const defaults = (await queueOf(queue)).settings.joinLimits;
  assert.equal(await page.inputValue('#in-limit-identity'), String(defaults.perIdentityPerMinute), 'the limits in force shown');
  await page.fill('#in-limit-identity', '7');
  await page.fill('#in-limit-ip', '0');
  await page.fill('#in-limit-network', '500');
  await page.click('#limits-form button[type="submit"]');
  await status('#door-status', 'join limits per identity 7/min, per IP none, per network 500/min');
  assert.deepEqual((await queueOf(queue)).settings.joinLimits, { perIdentityPerMinute: 7, perIpPerMinute: 0, perNetworkPerMinute: 500 });
  await page.click('[data-action="limits-default"]');
  await status('#door-status', 'join limits back to the defaults');
  assert.deepEqual((await queueOf(queue)).settings.joinLimits, defaults, 'the defaults through the API');
  assert.equal(await page.inputValue('#in-limit-identity'), String(defaults.perIdentityPerMinute));

  begin(`presale invitations of ${queue}: the server's refusal shown with its message`);
  await status('#inv-summary', 'No codes yet');
  await page.fill('#inv-count', '3');
  await page.fill('#inv-uses', '2');
  await page.fill('#inv-user', 'not-a-user');
  await page.click('#inv-form button[type="submit"]');
  await page.waitForFunction(() => /INVALID_BODY/.test(document.querySelector('#inv-error').textContent), null, wait);
  assert.match(await page.textContent('#inv-error'), /userId must be a user id/);
  assert.deepEqual(await api('GET', `/admin/queues/${queue}/invitations`), [], 'refused: no codes');

  begin('3 codes of 2 uses: shown once, listed with 2 uses left');
  await page.fill('#inv-user', '');
  await page.click('#inv-form button[type="submit"]');
  await page.waitForSelector('#inv-new:not([hidden])', wait);
  const codes = (await page.inputValue('#inv-new-codes')).split('\n');
  assert.equal(codes.length, 3, 'three new codes shown');
  for (const code of codes) assert.match(code, /^inv_[\w-]{22}$/);
  assert.match(await page.textContent('#inv-new-note'), /3 new codes of 2 uses each/);
  await page.waitForFunction((n) => document.querySelectorAll('#inv-rows tr[data-code]').length === n, codes.length, wait);
  const listed = await page.$$eval('#inv-rows tr[data-code]', (rows) => rows.map((r) => [r.dataset.code, r.querySelector('.left').textContent]));
  assert.deepEqual(listed.map(([code]) => code).sort(), [...codes].sort(), 'the list has the new codes');
  assert.ok(listed.every(([, left]) => left === '2'), `each with 2 uses left: ${JSON.stringify(listed)}`);
  await status('#inv-summary', '3 codes, 6 of 6 uses left');
  const viaApi = await api('GET', `/admin/queues/${queue}/invitations`);
  assert.deepEqual(viaApi.map((c) => [c.usesLeft, c.uses]), [[2, 2], [2, 2], [2, 2]], 'through the API');
  await shot('invitations');

  begin('the CSV downloads: the queue\'s codes and the new batch');
  const download = async (action) => {
    const [file] = await Promise.all([page.waitForEvent('download', wait), page.click(`[data-action="${action}"]`)]);
    const [header, ...rows] = (await readFile(await file.path(), 'utf8')).trim().split('\n');
    return { name: file.suggestedFilename(), header, rows: rows.map((row) => row.split(',')) };
  };
  for (const [action, name] of [['download-all', `invitations-${queue}.csv`], ['download-new', `invitations-${queue}-new.csv`]]) {
    const csv = await download(action);
    assert.equal(csv.name, name);
    assert.equal(csv.header, 'code,uses,usesLeft,userId,validUntil,createdAt');
    assert.deepEqual(csv.rows.map((row) => row[0]).sort(), [...codes].sort(), `${name} has the 3 codes`);
    assert.ok(csv.rows.every((row) => row[1] === '2' && row[2] === '2'), `${name}: 2 uses, 2 left each`);
  }
  await status('#inv-status', '3 new codes saved as CSV');
}
