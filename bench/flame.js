// A flame graph of a V8 .cpuprofile as a self-contained SVG (no dependencies): each box is a
// function, as wide as the samples in it and in what it called; colour by stage; hover for names.
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

const COLOURS = {
  'Node HTTP server and sockets': '#9aa5b1',
  undici: '#c5b9ad',
  'forwarder glue': '#e07b39',
  headers: '#f2c14e',
  auth: '#2b7bb9',
  logging: '#d1495b',
  metrics: '#66a182',
  GC: '#555555',
  'async plumbing and timers': '#b8a1d9',
  'authgate, other': '#8fb8de',
};

function flameGraph(profile, title, stageOf, width = 1200) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + 1);
  const total = new Map();
  const sum = (node) => {
    let n = self.get(node.id) ?? 0;
    for (const c of node.children ?? []) n += sum(byId.get(c));
    total.set(node.id, n);
    return n;
  };
  const root = profile.nodes[0];
  // Idle time is left out: the graph shows where busy time goes.
  const idle = profile.nodes.filter((n) => n.callFrame.functionName === '(idle)');
  sum(root);
  const busy = total.get(root.id) - idle.reduce((a, n) => a + (total.get(n.id) ?? 0), 0);
  const rowH = 16;
  const boxes = [];
  let depthMax = 0;
  const lay = (node, x, depth) => {
    const w = ((total.get(node.id) ?? 0) / busy) * width;
    if (w < 0.3 || node.callFrame.functionName === '(idle)') return;
    depthMax = Math.max(depthMax, depth);
    if (depth > 0) boxes.push({ node, x, w, depth });
    let cx = x;
    for (const c of node.children ?? []) {
      const child = byId.get(c);
      if (child.callFrame.functionName === '(idle)') continue;
      lay(child, cx, depth + 1);
      cx += ((total.get(child.id) ?? 0) / busy) * width;
    }
  };
  lay(root, 0, 0);
  const height = (depthMax + 1) * rowH + 60;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="10">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="4" y="16" font-family="sans-serif" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ];
  let lx = 4;
  for (const [stage, colour] of Object.entries(COLOURS)) {
    parts.push(
      `<rect x="${lx}" y="24" width="10" height="10" fill="${colour}"/><text x="${lx + 13}" y="33" font-family="sans-serif">${esc(stage)}</text>`,
    );
    lx += 18 + stage.length * 6;
  }
  for (const { node, x, w, depth } of boxes) {
    const f = node.callFrame;
    const name = f.functionName || '(anonymous)';
    const where = f.url
      ? `${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}`
      : '';
    // An icicle: the root at the top, callees below, so the wide frames are seen first.
    const y = 40 + (depth - 1) * rowH;
    const pct = (((total.get(node.id) ?? 0) / busy) * 100).toFixed(1);
    const colour = COLOURS[stageOf(f)] ?? '#dddddd';
    parts.push(
      `<g><title>${esc(`${name} ${where} — ${pct}%`)}</title><rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.3, w - 0.3).toFixed(1)}" height="${rowH - 1}" fill="${colour}"/>` +
        (w > 40
          ? `<text x="${(x + 2).toFixed(1)}" y="${y + 11}">${esc(name.slice(0, Math.floor(w / 6)))}</text>`
          : '') +
        '</g>',
    );
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

module.exports = { flameGraph };
