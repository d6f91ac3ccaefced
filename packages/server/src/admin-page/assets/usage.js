// @ts-check
// The usage page: daily charts of the account's widgets, added up here from
// each widget's usage, and the account's generation allowance.
import { account, accountWidgets, api, shell, state } from './api.js';
import { errorBox, field, h, optionalNumber, render, s, select, toast, toastError } from './dom.js';

/** @typedef {import('./api.js').UsageDay} UsageDay */
/** @typedef {Pick<UsageDay, 'views' | 'requests' | 'inputTokens' | 'outputTokens' | 'generations' | 'errors'>} DaySum */

const dayMs = 86_400_000;
const isoDay = (/** @type {Date} */ date) => date.toISOString().slice(0, 10);

function daysBetween(/** @type {string} */ from, /** @type {string} */ to) {
  const days = [];
  for (let time = Date.parse(`${from}T00:00:00Z`); time <= Date.parse(`${to}T00:00:00Z`); time += dayMs) days.push(isoDay(new Date(time)));
  return days;
}

const errorCount = (/** @type {DaySum} */ day) => Object.values(day.errors ?? {}).reduce((sum, count) => sum + count, 0);
/** @type {[string, (day: DaySum) => number][]} */
const metrics = [
  ['Views', (day) => day.views],
  ['Requests', (day) => day.requests],
  ['Tokens', (day) => day.inputTokens + day.outputTokens],
  ['Generations', (day) => day.generations],
  ['Errors', errorCount],
];

/** A bar chart of one metric per day, with a text summary for screen readers. */
/**
 * @param {string} label
 * @param {string[]} days
 * @param {number[]} values
 */
function barChart(label, days, values) {
  const width = 560;
  const height = 120;
  const max = Math.max(1, ...values);
  const slot = width / Math.max(1, values.length);
  const total = values.reduce((sum, value) => sum + value, 0);
  const chart = s(
    'svg',
    {
      viewBox: `0 0 ${width} ${height + 18}`,
      role: 'img',
      'aria-label': `${label}: ${total} from ${days[0]} to ${days[days.length - 1]}, at most ${max} a day`,
      class: 'chart',
    },
    s('line', { x1: 0, y1: height, x2: width, y2: height, class: 'axis' }),
    values.map((value, index) => {
      const barHeight = Math.round((value / max) * (height - 4));
      return s(
        'rect',
        { x: index * slot + 1, y: height - barHeight, width: Math.max(1, slot - 2), height: barHeight, class: 'bar' },
        s('title', {}, `${days[index]}: ${value}`),
      );
    }),
    s('text', { x: 0, y: height + 14, class: 'tick' }, days[0] ?? ''),
    s('text', { x: width, y: height + 14, class: 'tick', 'text-anchor': 'end' }, days[days.length - 1] ?? ''),
  );
  return h(
    'figure',
    { class: 'card chart-card' },
    h('figcaption', {}, h('strong', {}, label), ` — ${total.toLocaleString()} in total, peak ${max === 1 && total === 0 ? 0 : max.toLocaleString()} a day`),
    chart,
  );
}

/** Operator only: sets an account's allowance of generations on the shared key. */
function allowanceForm(/** @type {import('./api.js').Balance} */ balance) {
  const amount = h('input', { type: 'number', name: 'allowance', min: 0, step: 1, value: balance.allowance ?? '', placeholder: 'unlimited' });
  const reset = h('input', { type: 'checkbox', name: 'resetUsed', id: 'reset-used' });
  return h(
    'form',
    {
      class: 'filters',
      async onsubmit(event) {
        event.preventDefault();
        try {
          await api('PUT', `/accounts/${account()}/generations`, { allowance: optionalNumber(amount.value), resetUsed: reset.checked });
          toast('Allowance saved.');
          await shell.route();
        } catch (error) {
          toastError(error);
        }
      },
    },
    field('Allowance (empty: unlimited)', amount),
    h('div', { class: 'field check' }, reset, h('label', { for: 'reset-used' }, 'Start a new period (used back to 0)')),
    h('button', { type: 'submit', class: 'secondary' }, 'Set allowance'),
  );
}

/** The usage page for the range and widget of its query. */
export async function usagePage(/** @type {URLSearchParams} */ query) {
  const today = new Date();
  const from = query.get('from') ?? isoDay(new Date(today.getTime() - 29 * dayMs));
  const to = query.get('to') ?? isoDay(today);
  const widgetId = query.get('widget') ?? '';
  const section = h('section', { 'aria-labelledby': 'usage-title' }, h('h1', { id: 'usage-title' }, 'Usage'));
  render(section);
  let widgets;
  try {
    widgets = await accountWidgets();
  } catch (error) {
    section.append(errorBox(error));
    return;
  }
  const fromInput = h('input', { type: 'date', name: 'from', value: from, required: true });
  const toInput = h('input', { type: 'date', name: 'to', value: to, required: true });
  const widgetSelect = select(
    'widget',
    [['', 'Whole account'], ...widgets.map((widget) => /** @type {[string, string]} */ ([widget.id, widget.name]))],
    widgetId,
  );
  section.append(
    h(
      'form',
      {
        class: 'filters',
        onsubmit(event) {
          event.preventDefault();
          const next = new URLSearchParams({ from: fromInput.value, to: toInput.value });
          if (widgetSelect.value) next.set('widget', widgetSelect.value);
          location.hash = `#/usage?${next}`;
        },
      },
      field('From', fromInput),
      field('To', toInput),
      field('Widget', widgetSelect),
      h('button', { type: 'submit' }, 'Show'),
    ),
  );
  const allowance = h('div', { class: 'card', 'data-testid': 'allowance' }, h('h2', {}, 'Generation allowance'), h('p', { class: 'muted' }, 'Loading…'));
  section.append(allowance);
  /** @type {Promise<import('./api.js').Balance>} */ (api('GET', `/accounts/${account()}/generations`))
    .then((balance) => {
      allowance.replaceChildren(
        h('h2', {}, 'Generation allowance'),
        balance.allowance === null
          ? h('p', {}, `Unlimited. ${balance.used.toLocaleString()} used.`)
          : h(
              'p',
              {},
              h('strong', {}, `${balance.remaining.toLocaleString()} remaining`),
              ` of ${balance.allowance.toLocaleString()} (${balance.used.toLocaleString()} used).`,
            ),
        ...(state.principal?.kind === 'operator' ? [allowanceForm(balance)] : []),
      );
    })
    .catch((error) => allowance.replaceChildren(h('h2', {}, 'Generation allowance'), errorBox(error)));
  const chosen = widgetId ? widgets.filter((widget) => widget.id === widgetId) : widgets;
  let answers;
  try {
    const range = new URLSearchParams({ from, to });
    const asked = chosen.map((widget) => api('GET', `/widgets/${encodeURIComponent(widget.id)}/usage?${range}`));
    answers = /** @type {{ days: UsageDay[] }[]} */ (await Promise.all(asked));
  } catch (error) {
    section.append(errorBox(error));
    return;
  }
  const days = daysBetween(from, to);
  const byDay = new Map(
    days.map((day) => [day, /** @type {DaySum} */ ({ views: 0, requests: 0, inputTokens: 0, outputTokens: 0, generations: 0, errors: {} })]),
  );
  for (const answer of answers) {
    for (const day of answer.days) {
      const sum = byDay.get(day.day);
      if (!sum) continue;
      sum.views += day.views;
      sum.requests += day.requests;
      sum.inputTokens += day.inputTokens;
      sum.outputTokens += day.outputTokens;
      sum.generations += day.generations;
      for (const [code, count] of Object.entries(day.errors)) sum.errors[code] = (sum.errors[code] ?? 0) + count;
    }
  }
  const series = days.map((day) => /** @type {DaySum} */ (byDay.get(day)));
  section.append(
    h(
      'p',
      { class: 'muted' },
      `${widgetId ? `Widget ${chosen[0]?.name ?? widgetId}` : `All ${chosen.length} widget(s) of the account`}, ${from} to ${to} (UTC days).`,
    ),
    h(
      'div',
      { class: 'charts' },
      metrics.map(([label, pick]) => barChart(label, days, series.map(pick))),
    ),
  );
  /** @type {Record<string, number>} */
  const errorTotals = {};
  for (const day of series) for (const [code, count] of Object.entries(day.errors)) errorTotals[code] = (errorTotals[code] ?? 0) + count;
  if (Object.keys(errorTotals).length) {
    section.append(
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Errors by code'),
        h(
          'ul',
          {},
          Object.entries(errorTotals).map(([code, count]) => h('li', {}, `${code}: ${count}`)),
        ),
      ),
    );
  }
}
