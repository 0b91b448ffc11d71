// Open-loop fixed-rate load generator with microsecond latencies (autocannon reports whole
// milliseconds, too coarse for a 1 ms budget). Requests are due at exact intervals; latency is
// measured from when a request was due, so a stalled server cannot hide its queueing
// (coordinated omission). Usage: node bench/fixed-rate.js URL RATE SECONDS [Header: value]...
// Prints {"sent","errors","non2xx","p50","p99","p99_9"} (milliseconds).
const http = require('node:http');

const [url, rateArg, secondsArg, ...headerArgs] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const headers = Object.fromEntries(
  headerArgs.map((h) => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1).trim()]),
);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
// The first second warms up connections and JIT and is not recorded.
const warmup = Math.round(rate);
const total = warmup + Math.round(rate * seconds);
const intervalNs = 1e9 / rate;
const latencies = new Float64Array(total);
let sent = 0;
let done = 0;
let errors = 0;
let non2xx = 0;

function fire(i, dueNs) {
  const req = http.request(url, { agent, headers }, (res) => {
    res.resume();
    res.on('end', () => {
      latencies[i] = Number(process.hrtime.bigint() - dueNs) / 1e6;
      if (res.statusCode >= 300) non2xx++;
      finish();
    });
  });
  req.on('socket', (s) => s.setNoDelay(true));
  req.on('error', () => {
    errors++;
    latencies[i] = NaN;
    finish();
  });
  req.end();
}

function finish() {
  if (++done < total) return;
  const xs = Array.from(latencies)
    .filter((x) => !Number.isNaN(x))
    .sort((a, b) => a - b);
  const q = (p) => Math.round(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] * 1000) / 1000;
  process.stdout.write(
    JSON.stringify({
      sent: sent - warmup,
      errors,
      non2xx,
      p50: q(0.5),
      p99: q(0.99),
      p99_9: q(0.999),
    }) + '\n',
  );
  agent.destroy();
}

const start = process.hrtime.bigint();
function tick() {
  const now = process.hrtime.bigint();
  while (sent < total) {
    const due = start + BigInt(Math.round(sent * intervalNs));
    if (due > now) break;
    fire(sent, due);
    sent++;
  }
  // 1 ms timer ticks: a busy loop would steal the CPU the upstream shares with us.
  if (sent < total) setTimeout(tick, 1);
}
tick();
