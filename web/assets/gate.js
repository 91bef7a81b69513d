// The waiting room of a protected site (docs/protect-a-site.md): takes a place
// in the queue the address names, shows it until the visitor is admitted, then
// goes back to the page the visitor came from with the admission pass.
//
// The API is addressed relative to this page (../gate/...), so the room works
// both on boxoffice's own host and under a protected site's host through its
// proxy (/boxoffice/waiting-room/gate). The visitor's token is kept by the
// boxoffice_visitor cookie and, for browsers that refuse it, in memory too.
// A queue that asks for proof of work gets it solved here before the join
// (challenge.js), with no click.

import { Challenge, CHALLENGE_CODES, MOST_SOLVES, pauseAfterFailure } from './challenge.js';

const params = new URLSearchParams(location.search);
const queue = params.get('queue') || '';
const back = params.get('return') || '';
const $ = (id) => document.getElementById(id);
let token = '';
const challenge = new Challenge($('gate-challenge-widget'));

function api(path) {
  return new URL(`../gate/${encodeURIComponent(queue)}${path}`, location.href);
}

function request(url, options = {}, extra = {}) {
  const headers = token ? { Authorization: `Bearer ${token}`, ...extra } : extra;
  return fetch(url, { credentials: 'same-origin', ...options, headers });
}

/** The server names the challenge from its root (/queues/...): here, that is where ../ leads. */
function fromRoot(path) {
  return new URL(path.replace(/^\/+/, ''), new URL('../', location.href));
}

function show(state, position = '', eta = '') {
  $('gate-state').textContent = state;
  $('gate-position').textContent = position;
  $('gate-eta').textContent = eta;
}

function later(response, fallbackMs) {
  const seconds = Number(response.headers.get('Retry-After'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : fallbackMs;
}

// Admitted: back to the page, with the pass in the address when that page is
// on another host than this room (its cookie is not the site's then).
function goBack(body) {
  const target = new URL(body.returnTo);
  if (target.origin !== location.origin) {
    target.searchParams.set('boxoffice_pass', body.pass);
  }
  document.body.dataset.phase = 'admitted';
  show('It is your turn. Taking you back…');
  location.replace(target.toString());
}

async function poll() {
  const url = api('/status');
  if (back) url.searchParams.set('return', back);
  const response = await request(url).catch(() => null);
  if (!response) return setTimeout(poll, 2000);
  if (response.status === 503) {
    show('The waiting room is unavailable for a moment; retrying.');
    return setTimeout(poll, later(response, 2000));
  }
  const body = await response.json();
  if (!response.ok) {
    show(`Your place could not be found (${body.code}); taking a new one.`);
    return setTimeout(join, 1000);
  }
  if (body.status === 'admitted') return goBack(body);
  if (body.status === 'expired') {
    show('Your turn has ended. Reload the page to join the line again.');
    $('gate-leave').hidden = true;
    return;
  }
  show('You are in line.', `Position ${body.position}`, `about ${body.etaSeconds} s to go`);
  setTimeout(poll, Math.max(body.pollAfterMs, 250));
}

/** `proof`: the solved challenge this join carries, and how many were solved in a row. */
async function join(proof = { payload: null, solves: 0 }) {
  const altcha = proof.payload ? { 'X-Altcha': proof.payload } : {};
  const response = await request(api('/join'), { method: 'POST' }, altcha).catch(() => null);
  if (!response || response.status === 503) {
    show('The waiting room is unavailable for a moment; retrying.');
    return setTimeout(() => join(proof), response ? later(response, 2000) : 2000);
  }
  const body = await response.json();
  if (!response.ok && CHALLENGE_CODES.includes(body.code) && proof.solves < MOST_SOLVES) {
    return solveThenJoin(body.challengeUrl || `/queues/${encodeURIComponent(queue)}/challenge`, proof.solves);
  }
  $('gate-challenge').hidden = true;
  challenge.clear();
  if (!response.ok) {
    document.body.dataset.phase = 'error';
    if (CHALLENGE_CODES.includes(body.code)) return show('Your browser could not be checked. Reload the page to try again.');
    return show(body.code === 'QUEUE_CLOSED' ? 'This line is closed to newcomers.' : `This line cannot be joined (${body.code}).`);
  }
  token = body.token;
  document.body.dataset.phase = 'waiting';
  $('gate-leave').hidden = false;
  show('You are in line.', `Position ${body.position}`, `about ${body.etaSeconds} s to go`);
  setTimeout(poll, Math.max(body.pollAfterMs, 250));
}

// The queue asks each join for proof of work: solved in the page, then the join goes again with it.
async function solveThenJoin(challengeUrl, solves) {
  show('Checking your browser before you join. This takes a few seconds; keep this page open.');
  $('gate-challenge').hidden = false;
  const payload = await challenge.solve(fromRoot(challengeUrl), document.documentElement.lang || 'en').catch(() => null);
  if (payload) return join({ payload, solves: solves + 1 });
  if (solves + 1 < MOST_SOLVES) {
    await pauseAfterFailure(solves + 1);
    return solveThenJoin(challengeUrl, solves + 1);
  }
  $('gate-challenge').hidden = true;
  challenge.clear();
  document.body.dataset.phase = 'error';
  show('The browser check could not finish. Reload the page to try again.');
}

$('gate-leave').addEventListener('click', async () => {
  await request(api('/leave'), { method: 'POST' }).catch(() => null);
  token = '';
  document.body.dataset.phase = 'left';
  $('gate-leave').hidden = true;
  show('You left the line.');
});

if (queue) {
  join();
} else {
  show('No line is named in this address.');
}
