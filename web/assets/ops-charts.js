// Hand-drawn SVG time charts, over up to the last 10 minutes or, for a
// report, over a whole sale (the axes are ops-chart-axes.js): a line per
// series, gaps where polling stopped (tab hidden, server unreachable), a
// pointer or arrow-key cursor with the values at that moment. Drawn at the
// element's real pixel width so text stays crisp; redrawn on resize.

import { areaPath, GAP_MS, linePath, niceStep, recentAxis, round1, runs, spanOf } from './ops-chart-axes.js';
import { el, fmtClock } from './ops-format.js';

const HEIGHT = 168;
const MARGIN = { l: 50, r: 12, t: 10, b: 22 };
const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function setAttr(node, name, value) {
  const text = String(value);
  if (node.getAttribute(name) !== text) node.setAttribute(name, text);
}

/**
 * spec: {id, title, format(v), floor (smallest top of the y axis), integer, wide,
 *        axis (recentAxis unless told), gapMs (GAP_MS unless told),
 *        legend: 'latest' (the default) or 'peak', the value the legend shows,
 *        series: [{key, label, color: 'c0'..'c4', dashed, step, area, thin}]}
 */
export function createChart(parent, spec) {
  const axis = spec.axis || recentAxis;
  const peak = spec.legend === 'peak';
  const titleId = `${spec.id}-title`;
  const legend = el('ul', { class: 'legend' });
  const values = spec.series.map((s) => {
    const value = el('span', { class: 'legend-value' }, '—');
    legend.append(
      el('li', {}, el('span', { class: `swatch ${s.color}${s.dashed ? ' dashed' : ''}`, 'aria-hidden': 'true' }), `${s.label} `, value),
    );
    return value;
  });
  const figure = el(
    'figure',
    { class: `chart${spec.wide ? ' wide' : ''}`, id: spec.id, tabindex: '0', 'aria-labelledby': titleId, dataset: { points: '0', last: '' } },
    el('figcaption', {}, el('span', { class: 'chart-title', id: titleId }, spec.title), legend),
  );
  const root = svg('svg', { role: 'img', height: HEIGHT, class: 'chart-svg' });
  // Paused or closed stretches shade every chart, so cause and effect line up.
  const bandNotes = ['paused', 'closed'].map((state) => {
    const li = el('li', { class: 'band-note', hidden: true }, el('span', { class: `swatch-band band-${state}`, 'aria-hidden': 'true' }), state);
    legend.append(li);
    return [state, li];
  });
  const grid = svg('g', { class: 'grid' });
  const bands = svg('g', { class: 'bands' });
  const areas = spec.series.map((s) => svg('path', { class: `area ${s.color}`, d: '' }));
  const lines = spec.series.map((s) =>
    svg('path', { class: `line ${s.color}${s.dashed ? ' dashed' : ''}${s.thin ? ' thin' : ''}`, d: '', 'data-key': s.key }),
  );
  const cursorLine = svg('line', { class: 'cursor', visibility: 'hidden' });
  const dots = spec.series.map((s) => svg('circle', { class: `dot ${s.color}`, r: 3, visibility: 'hidden' }));
  root.append(grid, bands, ...areas.filter((_, i) => spec.series[i].area), ...lines, cursorLine, ...dots);
  const tooltip = el('div', { class: 'tooltip', hidden: true });
  figure.append(root, tooltip);
  parent.append(figure);

  let samples = [];
  let now = Date.now();
  let cursorT = null;
  let gridKey = '';

  function geometry() {
    const width = Math.max(240, Math.floor(figure.clientWidth) - 2);
    const { t0, span } = axis.domain(samples, now);
    const plotW = width - MARGIN.l - MARGIN.r;
    const plotH = HEIGHT - MARGIN.t - MARGIN.b;
    let top = spec.floor ?? 1;
    for (const sample of samples) {
      for (const s of spec.series) {
        const v = sample[s.key];
        if (typeof v === 'number' && v > top) top = v;
      }
    }
    const step = niceStep(top / 4, spec.integer);
    const yMax = Math.ceil(top / step) * step;
    return {
      width,
      t0,
      span,
      yMax,
      step,
      x: (t) => MARGIN.l + ((t - t0) / span) * plotW,
      y: (v) => MARGIN.t + plotH - (v / yMax) * plotH,
      tAt: (px) => t0 + ((px - MARGIN.l) / plotW) * span,
    };
  }

  function drawGrid(g) {
    // The grid only changes with the width, the y scale or the axis's labels: skip rebuilding it otherwise.
    const key = `${g.width}/${g.yMax}/${axis.labelsKey(g.t0, g.span)}`;
    if (key === gridKey) return;
    gridKey = key;
    grid.replaceChildren();
    setAttr(root, 'width', g.width);
    setAttr(root, 'viewBox', `0 0 ${g.width} ${HEIGHT}`);
    for (let v = 0; v <= g.yMax + 1e-9; v += g.step) {
      const py = round1(g.y(v));
      grid.append(svg('line', { x1: MARGIN.l, x2: g.width - MARGIN.r, y1: py, y2: py }));
      const label = svg('text', { x: MARGIN.l - 6, y: py + 4, 'text-anchor': 'end' });
      label.textContent = spec.format(v);
      grid.append(label);
    }
    for (const tick of axis.ticks(g.t0, g.span)) {
      const label = svg('text', { x: round1(g.x(tick.t)), y: HEIGHT - 6, 'text-anchor': tick.anchor });
      label.textContent = tick.label;
      grid.append(label);
    }
  }

  function nearest(t) {
    let best = null;
    for (const sample of samples) {
      if (!best || Math.abs(sample.t - t) < Math.abs(best.t - t)) best = sample;
    }
    return best;
  }

  function drawCursor(g) {
    const sample = cursorT === null ? null : nearest(cursorT);
    if (!sample) {
      cursorLine.setAttribute('visibility', 'hidden');
      dots.forEach((d) => d.setAttribute('visibility', 'hidden'));
      tooltip.hidden = true;
      return;
    }
    const px = round1(g.x(sample.t));
    cursorLine.setAttribute('x1', px);
    cursorLine.setAttribute('x2', px);
    cursorLine.setAttribute('y1', MARGIN.t);
    cursorLine.setAttribute('y2', HEIGHT - MARGIN.b);
    cursorLine.setAttribute('visibility', 'visible');
    const rows = [el('strong', {}, `${fmtClock(sample.t)}${sample.state && sample.state !== 'open' ? ` · ${sample.state}` : ''}`)];
    spec.series.forEach((s, i) => {
      const v = sample[s.key];
      const has = typeof v === 'number';
      dots[i].setAttribute('visibility', has ? 'visible' : 'hidden');
      if (has) {
        dots[i].setAttribute('cx', px);
        dots[i].setAttribute('cy', round1(g.y(v)));
      }
      rows.push(el('span', {}, `${s.label}: ${has ? spec.format(v) : '—'}`));
    });
    tooltip.replaceChildren(...rows);
    tooltip.hidden = false;
    const left = Math.min(Math.max(px + 10, 0), g.width - 170);
    tooltip.style.left = `${px > g.width - 190 ? px - 180 : left}px`;
  }

  function drawBands(g, visible) {
    const spans = [];
    let current = null;
    for (const sample of visible) {
      if (current) current.to = sample.t;
      const shaded = sample.state === 'paused' || sample.state === 'closed';
      if (shaded && (!current || current.state !== sample.state)) spans.push((current = { state: sample.state, from: sample.t, to: sample.t }));
      else if (!shaded) current = null;
    }
    const top = MARGIN.t;
    const height = HEIGHT - MARGIN.t - MARGIN.b;
    bands.replaceChildren(
      ...spans.map((b) => {
        const x = round1(g.x(b.from));
        return svg('rect', { class: `band band-${b.state}`, x, y: top, width: Math.max(2, round1(g.x(b.to)) - x), height });
      }),
    );
    for (const [state, li] of bandNotes) li.hidden = !spans.some((b) => b.state === state);
  }

  function draw() {
    const g = geometry();
    drawGrid(g);
    const visible = samples.filter((s) => s.t >= g.t0);
    drawBands(g, visible);
    spec.series.forEach((s, i) => {
      const segments = runs(visible, s.key, g.x, g.y, spec.gapMs ?? GAP_MS);
      setAttr(lines[i], 'd', linePath(segments, s.step));
      if (s.area) setAttr(areas[i], 'd', areaPath(segments, round1(g.y(0)), s.step));
    });
    const latest = samples[samples.length - 1];
    const summary = spec.series.map((s, i) => {
      const v = peak ? peakOf(visible, s.key) : latest ? latest[s.key] : null;
      const text = typeof v === 'number' ? `${peak ? 'peak ' : ''}${spec.format(v)}` : '—';
      if (values[i].textContent !== text) values[i].textContent = text;
      return `${s.label} ${text}`;
    });
    setAttr(root, 'aria-label', `${spec.title}, ${axis.describe(g.t0, g.span)}. ${peak ? '' : 'Now: '}${summary.join(', ')}`);
    figure.dataset.points = String(visible.length);
    const first = latest ? latest[spec.series[0].key] : null;
    figure.dataset.last = typeof first === 'number' ? String(first) : '';
    drawCursor(g);
  }

  root.addEventListener('pointermove', (event) => {
    const box = root.getBoundingClientRect();
    cursorT = geometry().tAt(event.clientX - box.left);
    drawCursor(geometry());
  });
  root.addEventListener('pointerleave', () => {
    cursorT = null;
    drawCursor(geometry());
  });
  // Keyboard users step through the samples with the arrow keys.
  figure.addEventListener('keydown', (event) => {
    if (!samples.length) return;
    const current = cursorT === null ? null : samples.indexOf(nearest(cursorT));
    let index = current;
    if (event.key === 'ArrowLeft') index = current === null ? samples.length - 1 : Math.max(0, current - 1);
    else if (event.key === 'ArrowRight') index = current === null ? samples.length - 1 : Math.min(samples.length - 1, current + 1);
    else if (event.key === 'Home') index = 0;
    else if (event.key === 'End') index = samples.length - 1;
    else if (event.key === 'Escape') index = null;
    else return;
    event.preventDefault();
    cursorT = index === null ? null : samples[index].t;
    drawCursor(geometry());
  });
  figure.addEventListener('blur', () => {
    cursorT = null;
    drawCursor(geometry());
  });
  new ResizeObserver(() => {
    gridKey = '';
    draw();
  }).observe(figure);

  return {
    figure,
    update(nextSamples, nextNow, queue) {
      samples = nextSamples;
      now = nextNow;
      if (queue !== undefined) figure.dataset.queue = queue;
      draw();
    },
  };
}

// The highest number of `key` among the samples, or null when none has one.
function peakOf(samples, key) {
  let top = null;
  for (const sample of samples) if (typeof sample[key] === 'number' && (top === null || sample[key] > top)) top = sample[key];
  return top;
}

// A small line of one series for the queue table: no axes, scaled to its own max.
export function sparkline(samples, key, now, width = 140, height = 26) {
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'spark', 'aria-hidden': 'true' });
  let top = 1;
  for (const s of samples) if (typeof s[key] === 'number' && s[key] > top) top = s[key];
  const span = spanOf(samples, now);
  const x = (t) => ((t - (now - span)) / span) * width;
  const y = (v) => height - 2 - (v / top) * (height - 4);
  const segments = runs(samples, key, x, y);
  root.append(svg('path', { class: 'area c0', d: areaPath(segments, height) }), svg('path', { class: 'line c0', d: linePath(segments, false) }));
  return root;
}
