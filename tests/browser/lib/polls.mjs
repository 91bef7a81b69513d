// When a page polls its place, timed in the page itself. The test's own clock
// sees each request only when Chromium's event reaches Node, which under load
// is a hundred milliseconds late at times: gaps measured there can read
// shorter than the client kept them (CI saw 885 ms for a 1 s gap).

/** Records in `window.__polls` the time of each GET of a place (`…/concerts/{code}/token`), from page load on. */
export async function recordPolls(page) {
  await page.addInitScript(() => {
    window.__polls = [];
    const send = window.fetch;
    window.fetch = function (input, init) {
      const url = new URL(typeof input === 'string' ? input : input.url, location.href);
      const method = (init?.method || (typeof input === 'string' ? 'GET' : input.method)).toUpperCase();
      if (method === 'GET' && /\/api\/v1\/concerts\/[^/]+\/token$/.test(url.pathname)) window.__polls.push(Date.now());
      return send.apply(this, arguments);
    };
  });
}

/** The page's poll times so far (since its last load). */
export const pollTimes = (page) => page.evaluate(() => window.__polls);
