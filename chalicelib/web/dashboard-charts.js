/* The dashboard's charts, drawn as inline SVG: stacked columns per day, stacked bars per channel, the NPS,
 * CSAT and stars lines; and the score cards (NPS, CSAT, stars, each with its change against the period
 * before). Every plotted value is also on its element as a data attribute (data-date, data-channel,
 * data-sentiment, data-count, data-total, data-nps, data-csat, data-stars), so tests and scrapers can read
 * the figures back. A day or a channel is a button (keyboard too) that `onPick` receives, to list the items
 * behind it.
 */
window.FeedbackCharts = (() => {
  'use strict';
  const SVG = 'http://www.w3.org/2000/svg';
  const SENTIMENTS = ['POSITIVE', 'NEUTRAL', 'MIXED', 'NEGATIVE', 'NONE'];
  const LABELS = { POSITIVE: 'Positive', NEUTRAL: 'Neutral', MIXED: 'Mixed', NEGATIVE: 'Negative',
    NONE: 'Not analysed' };
  // Numbers as the reader's locale writes them (1,234,567 · 1.234.567; 4.5 · 4,5); the API gives at most 2 decimals.
  const NUMBER = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  /* A figure for the reader: a number in the locale's way, '–' for none, any other text as it is. */
  const fmt = (n) => (n === null || n === undefined ? '–' : typeof n === 'number' ? NUMBER.format(n) : String(n));

  /* Creates an element (HTML or SVG): el('p', {class: 'x', text: 'hi'}, child…). */
  function el(tag, attributes, ...children) {
    const element = ['svg', 'g', 'rect', 'line', 'text', 'title', 'circle', 'polyline'].includes(tag)
      ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') element.textContent = value;
      else element.setAttribute(name, value === true ? '' : String(value));
    }
    element.append(...children.filter((child) => child !== null && child !== undefined));
    return element;
  }
  /* Makes a chart element a button: click, Enter and Space call `pick`. */
  function pickable(element, label, pick) {
    if (!pick) return element;
    element.setAttribute('role', 'button');
    element.setAttribute('tabindex', '0');
    element.setAttribute('aria-label', label);
    element.classList.add('pick');
    element.addEventListener('click', pick);
    element.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); pick(); }
    });
    return element;
  }

  /* The days from the first with data to the last (little data: no lone bar on a long axis); all when none. */
  function spanOfData(days) {
    const first = days.findIndex((d) => d.total > 0);
    if (first < 0) return days;
    const last = days.length - 1 - [...days].reverse().findIndex((d) => d.total > 0);
    return days.slice(first, last + 1);
  }

  /* --- charts ------------------------------------------------------------------------------------------- */
  /* A round axis maximum that halves into a whole number: 4, 6, 8, 10, 20, 30 … 100, 200 … */
  function niceMax(value) {
    if (value <= 4) return 4;
    const step = Math.pow(10, Math.floor(Math.log10(value)));
    const top = Math.ceil(value / step) * step;
    return top % 2 ? top + step : top;
  }

  /* How many axis labels fit a chart `width` units wide (at most `most`): a label takes about 60 units. */
  const labelsFitting = (width, most) => Math.max(1, Math.min(most, Math.floor(width / 60)));

  /* Stacked columns: one per day, one segment per sentiment. `width`: the units across, the pixels the chart
   * gets on a narrow screen, so its 11 px words are drawn at 11 px rather than scaled down to unreadable. */
  function dayChart(days, onPick, width = 720) {
    const height = 240, left = 36, bottom = 22, top = 14;
    const max = niceMax(Math.max(1, ...days.map((d) => d.total)));
    const band = (width - left) / days.length;
    const bar = Math.max(2, Math.min(40, band * 0.7));
    const y = (value) => top + (height - top - bottom) * (1 - value / max);
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'days-title',
      'data-chart': 'days', 'data-total': days.reduce((sum, d) => sum + d.total, 0) });
    for (const tick of [0, max / 2, max]) {
      svg.append(el('line', { class: 'axis', x1: left, x2: width, y1: y(tick), y2: y(tick) }),
        el('text', { x: left - 6, y: y(tick) + 4, 'text-anchor': 'end', text: fmt(tick) }));
    }
    const every = Math.ceil(days.length / labelsFitting(width - left, 10));
    days.forEach((day, index) => {
      const x = left + band * index + (band - bar) / 2;
      const group = el('g', { class: 'day', 'data-date': day.date, 'data-total': day.total });
      let base = 0;
      for (const sentiment of SENTIMENTS) {
        const count = day.sentiment[sentiment] || 0;
        if (!count) continue;
        group.append(el('rect', { class: sentiment, x, width: bar, y: y(base + count),
          height: y(base) - y(base + count), 'data-sentiment': sentiment, 'data-count': count },
        el('title', { text: `${day.date} · ${LABELS[sentiment]}: ${fmt(count)}` })));
        base += count;
      }
      if (index % every === 0) {
        group.append(el('text', { x: x + bar / 2, y: height - 6, 'text-anchor': 'middle', text: day.date.slice(5) }));
      }
      svg.append(pickable(group, `${day.date}: ${fmt(day.total)} items, list them`, onPick && (() => onPick(day.date))));
    });
    return svg;
  }

  /* Stacked horizontal bars: one per channel, with its total at the end. */
  function channelChart(channels, onPick, width = 460) {
    if (!channels.length) return el('p', { class: 'empty', text: 'No feedback in this period.' });
    const row = 28, left = 90, right = 40;
    const height = row * channels.length + 4;
    const max = Math.max(1, ...channels.map((c) => c.total));
    const scale = (value) => (width - left - right) * value / max;
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'channels-title',
      'data-chart': 'channels' });
    channels.forEach((channel, index) => {
      const y = index * row + 4;
      const group = el('g', { class: 'channel', 'data-channel': channel.channel, 'data-total': channel.total },
        el('text', { class: 'label', x: left - 8, y: y + 15, 'text-anchor': 'end', text: channel.channel }));
      let x = left;
      for (const sentiment of SENTIMENTS) {
        const count = channel.sentiment[sentiment] || 0;
        if (!count) continue;
        group.append(el('rect', { class: sentiment, x, y, height: row - 8, width: scale(count),
          'data-sentiment': sentiment, 'data-count': count },
        el('title', { text: `${channel.channel} · ${LABELS[sentiment]}: ${fmt(count)}` })));
        x += scale(count);
      }
      group.append(el('text', { class: 'total', x: x + 6, y: y + 15, text: fmt(channel.total) }));
      svg.append(pickable(group, `${channel.channel}: ${fmt(channel.total)} items, list them`,
        onPick && (() => onPick(channel.channel))));
    });
    return svg;
  }

  /* A score per day as a line on a fixed axis; days without a rating leave a gap in the line. `spec`: name
   * (data-chart), titleId (the figcaption naming it), empty (the sentence without ratings), ticks (the axis's
   * [low, middle, high]), value(day) and responses(day) (null without ratings), label (the point's words). */
  function trendChart(days, spec) {
    const value = (day) => spec.value(day);
    if (!days.some((d) => value(d) !== null)) return el('p', { class: 'empty', text: spec.empty });
    const [low, , high] = spec.ticks;
    const width = spec.width || 460, height = 200, left = 36, top = 10, bottom = 22;
    const band = (width - left) / days.length;
    const x = (index) => left + band * index + band / 2;
    const y = (score) => top + (height - top - bottom) * (high - score) / (high - low);
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': spec.titleId,
      'data-chart': spec.name });
    spec.ticks.forEach((tick, index) => {
      svg.append(el('line', { class: index === 1 ? 'zero' : 'axis', x1: left, x2: width, y1: y(tick), y2: y(tick) }),
        el('text', { x: left - 6, y: y(tick) + 4, 'text-anchor': 'end', text: fmt(tick) }));
    });
    let run = [];
    const flushRun = () => {
      if (run.length > 1) svg.append(el('polyline', { class: 'line', points: run.join(' ') }));
      run = [];
    };
    days.forEach((day, index) => {
      if (value(day) === null) { flushRun(); return; }
      run.push(`${x(index)},${y(value(day))}`);
    });
    flushRun();
    days.forEach((day, index) => {
      if (value(day) === null) return;
      svg.append(el('circle', { class: 'point', cx: x(index), cy: y(value(day)), r: 4, 'data-date': day.date,
        [`data-${spec.name}`]: value(day), 'data-responses': spec.responses(day) },
      el('title', { text: `${day.date} · ${spec.label} ${fmt(value(day))} (${fmt(spec.responses(day))} ratings)` })));
    });
    const every = Math.ceil(days.length / labelsFitting(width - left, 6));
    days.forEach((day, index) => {
      if (index % every === 0) {
        svg.append(el('text', { x: x(index), y: height - 6, 'text-anchor': 'middle', text: day.date.slice(5) }));
      }
    });
    return svg;
  }

  /* NPS per day on a −100…100 axis. */
  function npsChart(days, width) {
    return trendChart(days, { width, name: 'nps', titleId: 'nps-title', empty: 'No NPS ratings in this period.',
      ticks: [-100, 0, 100], value: (d) => d.nps.score, responses: (d) => d.nps.responses, label: 'NPS' });
  }

  /* CSAT per day: the % of ratings that are 4 or 5, on a 0…100 axis. */
  function csatChart(days, width) {
    const csat = (d) => (d.scores ? d.scores.csat : { satisfied_percent: null, responses: 0 });
    return trendChart(days, { width, name: 'csat', titleId: 'csat-title', empty: 'No CSAT ratings in this period.',
      ticks: [0, 50, 100], value: (d) => csat(d).satisfied_percent, responses: (d) => csat(d).responses,
      label: 'CSAT % satisfied' });
  }

  /* Stars per day: the mean rating, on a 1…5 axis. */
  function starsChart(days, width) {
    const stars = (d) => (d.scores ? d.scores.stars : { mean: null, responses: 0 });
    return trendChart(days, { width, name: 'stars', titleId: 'stars-title', empty: 'No star ratings in this period.',
      ticks: [1, 3, 5], value: (d) => stars(d).mean, responses: (d) => stars(d).responses, label: 'Stars, mean' });
  }

  /* One stacked bar of the sentiments about a theme (a tag always has one: no NONE). */
  const ABOUT_SENTIMENTS = SENTIMENTS.filter((s) => s !== 'NONE');
  function mixBar(theme) {
    const width = 120, height = 12;
    const counted = ABOUT_SENTIMENTS.reduce((sum, s) => sum + (theme.sentiment[s] || 0), 0);
    const svg = el('svg', { class: 'mix', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
      'aria-label': ABOUT_SENTIMENTS.map((s) => `${LABELS[s]} ${fmt(theme.sentiment[s] || 0)}`).join(', ') });
    let x = 0;
    for (const sentiment of ABOUT_SENTIMENTS) {
      const count = theme.sentiment[sentiment] || 0;
      if (!count) continue;
      const part = width * count / counted;
      svg.append(el('rect', { class: sentiment, x, y: 0, width: part, height, 'data-sentiment': sentiment,
        'data-count': count }));
      x += part;
    }
    return svg;
  }

  /* --- score cards ----------------------------------------------------------------------------------- */
  const signed = (n) => (n === null || n === undefined ? 'no earlier ratings' : (n > 0 ? '+' : n < 0 ? '−' : '±') +
    fmt(Math.abs(n)));

  /* One card per scale: its headline, what it is made of, and the change against the period before. */
  function scoreCards(node, block) {
    const nps = block.nps, csat = block.csat, stars = block.stars;
    const scoreCard = (name, label, value, detail, change, figures) => el('div', { class: 'card score',
      'data-card': name, 'data-value': value, 'data-change': change, 'data-responses': figures.responses,
      'data-previous': figures.previous[Object.keys(figures.previous).find((k) => k !== 'responses' && k !== 'mean')] },
    el('span', { class: 'value', text: fmt(value) }), el('span', { class: 'label', text: label }),
    el('span', { class: 'detail', text: detail }),
    el('span', { class: 'change', text: `${signed(change)} vs. period before` }));
    const distribution = (d) => Object.entries(d).map(([k, v]) => `${k}★ ${fmt(v)}`).join(' · ');
    node.append(
      scoreCard('nps-score', `NPS (${fmt(nps.responses)} ratings)`, nps.score,
        `${fmt(nps.promoters)} promoters · ${fmt(nps.passives)} passives · ${fmt(nps.detractors)} detractors`, nps.change, nps),
      scoreCard('csat', `CSAT % satisfied (${fmt(csat.responses)} ratings)`, csat.satisfied_percent,
        `mean ${fmt(csat.mean)} · ${fmt(csat.satisfied)} rated 4–5`, csat.change, csat),
      scoreCard('stars', `Stars, mean (${fmt(stars.responses)} ratings)`, stars.mean, distribution(stars.distribution),
        stars.change, stars));
  }

  return { el, SENTIMENTS, LABELS, spanOfData, niceMax, dayChart, channelChart, npsChart, csatChart, starsChart,
    mixBar, fmt, scoreCards };
})();
