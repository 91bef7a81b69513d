// Number, time and DOM helpers shared by the ops modules.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function fmtInt(value) {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : integer.format(value);
}

export function fmtRate(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return value >= 100 ? integer.format(value) : decimal.format(value);
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  return ms >= 1000 ? `${decimal.format(ms / 1000)} s` : `${integer.format(ms)} ms`;
}

// "1 endpoint", "3 endpoints".
export function count(n, one, many = `${one}s`) {
  return `${fmtInt(n)} ${n === 1 ? one : many}`;
}

export function fmtWon(value) {
  return `₩${fmtInt(value)}`;
}

export function fmtClock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

// An instant (ms since 1970, or RFC 3339 text) in the browser's time: "2026-12-06 21:27:02".
export function fmtDateTime(when) {
  const d = new Date(typeof when === 'string' ? Date.parse(when) : when);
  if (Number.isNaN(d.getTime())) return '—';
  const date = [d.getFullYear(), d.getMonth() + 1, d.getDate()].map((n) => String(n).padStart(2, '0')).join('-');
  return `${date} ${fmtClock(d.getTime())}`;
}

// "2030-10-10T19:00:00" (the server's local time) shown as "2030-10-10 19:00".
export function fmtLocal(text) {
  return text ? text.replace('T', ' ').replace(/:00$/, '') : '—';
}

// Short element builder: el('td', {class: 'num'}, 'text', child...).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    // through the CSSOM: the pages' Content-Security-Policy refuses style attributes
    else if (name === 'style') node.style.cssText = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Hands `text` to the browser as a file to save.
export function saveFile(text, filename, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // after the browser has taken the file
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

export function stateLabel(state) {
  return { open: 'Open', paused: 'Paused', closed: 'Closed' }[state] || state;
}
