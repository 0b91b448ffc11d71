// Renders the throughput results as an SVG bar chart (no dependencies): requests/s as a share
// of "direct", and the added p99 latency at the fixed rate.
const fs = require('node:fs');

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

function writeChart(results, file) {
  const rows = results.throughput;
  const rowH = 26;
  const labelW = 330;
  const barW = 320;
  const top = 56;
  const goals = (results.goals ?? []).filter((g) => !g.missing);
  const goalsTop = top + rows.length * rowH + 40;
  const height = goalsTop + (goals.length ? 30 + goals.length * rowH : 0) + 40;
  const gap = 190; // room for the throughput label after a full-width bar
  const col2 = labelW + barW + gap;
  const width = col2 + barW + 60;
  const maxLat = Math.max(...rows.map((r) => r.p99_ms), 1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">authgate vs. alternatives — ${esc(results.node)}, ${esc(results.machine)}</text>`,
    `<text x="${labelW}" y="44" font-weight="bold">throughput, share of direct (${esc(results.method.saturation)})</text>`,
    `<text x="${col2}" y="44" font-weight="bold">p99 latency at a fixed rate (ms)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const isAuthgate = r.target.startsWith('authgate');
    const w1 = Math.max(1, Math.min(1, r.rps_ratio_to_direct) * barW);
    const w2 = Math.max(1, (r.p99_ms / maxLat) * (barW - 40));
    parts.push(
      `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(r.target)}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${w1}" height="16" fill="${isAuthgate ? '#2b7bb9' : '#9aa5b1'}"/>`,
      `<text x="${labelW + w1 + 4}" y="${y + 16}">${r.rps} req/s (${Math.round(r.rps_ratio_to_direct * 100)}%)</text>`,
      `<rect x="${col2}" y="${y + 4}" width="${w2}" height="16" fill="${isAuthgate ? '#e07b39' : '#c5b9ad'}"/>`,
      `<text x="${col2 + 4 + w2}" y="${y + 16}">${r.p99_ms}</text>`,
    );
  });
  if (goals.length) {
    // The goals as ratios: a bar from 0 to the median, a whisker min–max, a tick at the target.
    const scale = barW / Math.max(2, ...goals.map((g) => Math.max(g.max, g.target)));
    parts.push(
      `<text x="${labelW}" y="${goalsTop}" font-weight="bold">goals: ratio per round, median and min–max (tick: the goal)</text>`,
    );
    goals.forEach((g, i) => {
      const y = goalsTop + 12 + i * rowH;
      parts.push(
        `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(g.goal)}</text>`,
        `<rect x="${labelW}" y="${y + 4}" width="${Math.max(1, g.ratio * scale)}" height="16" fill="${g.met ? '#66a182' : '#d1495b'}"/>`,
        `<line x1="${labelW + g.min * scale}" x2="${labelW + g.max * scale}" y1="${y + 12}" y2="${y + 12}" stroke="#000"/>`,
        `<line x1="${labelW + g.target * scale}" x2="${labelW + g.target * scale}" y1="${y + 1}" y2="${y + 23}" stroke="#000" stroke-width="2"/>`,
        `<text x="${labelW + Math.max(g.max, g.target) * scale + 8}" y="${y + 16}">${g.ratio}x [${g.min}–${g.max}], goal ${g.target}x</text>`,
      );
    });
  }
  parts.push(
    `<text x="10" y="${height - 12}" fill="#555">${esc(results.method.placement)}; median of ${results.method.repeats} runs. Source: bench/results/${results.date.slice(0, 10)}.json</text>`,
    '</svg>',
  );
  fs.writeFileSync(file, parts.join('\n') + '\n');
}

module.exports = { writeChart };
