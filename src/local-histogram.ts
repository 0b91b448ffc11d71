/**
 * A Prometheus histogram whose observations on the request path are two additions into a
 * series bound once per label set (docs/design.md#metrics). prom-client's own bound child checks
 * the label names, builds the label object and hashes it again on every observe; this one does
 * that once per series. What a scrape reads — the text exposition and the JSON `--workers`
 * aggregates — is exactly prom-client's `Histogram` for the same observations.
 */
import { Histogram, type Aggregator, type HistogramConfiguration } from 'prom-client';

/** One label set's counts: `counts[i]` observations in bucket i (not cumulative), the last +Inf. */
export class HistogramSeries<L extends string> {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<L, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

interface ExportedValue<L extends string> {
  labels: Readonly<Record<string, string | number>>;
  sharedLabels?: Readonly<Record<L, string>>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

/** A scrape's view of the histogram, as prom-client's `Histogram` returns it. */
export interface Exported<L extends string> {
  name: string;
  help: string;
  type: 'histogram';
  values: Array<ExportedValue<L>>;
  aggregator: Aggregator;
}

export class LocalHistogram<L extends string> extends Histogram<L> {
  private readonly series = new Map<string, HistogramSeries<L>>();
  private readonly bounds: readonly number[];
  private readonly names: readonly L[];
  private readonly metricName: string;
  private readonly helpText: string;
  private readonly aggregate: Aggregator;

  constructor(
    config: Omit<HistogramConfiguration<L>, 'collect' | 'enableExemplars'> & {
      buckets: number[];
      labelNames: readonly L[];
    },
  ) {
    super(config);
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.names = config.labelNames;
    this.metricName = config.name;
    this.helpText = config.help;
    this.aggregate = config.aggregator ?? 'sum';
  }

  /** The series of one label set, created on first use; bind it once and observe into it. */
  bind(labels: Readonly<Record<L, string>>): HistogramSeries<L> {
    const key = this.names.map((name) => labels[name]).join('\u0000');
    let series = this.series.get(key);
    if (!series) {
      for (const name of Object.keys(labels)) {
        if (!this.names.includes(name as L))
          throw new Error(`Added label "${name}" is not included in initial labelset`);
      }
      series = new HistogramSeries(labels, this.bounds);
      this.series.set(key, series);
    }
    return series;
  }

  /** prom-client's form before its labels are merged (the registry's text exposition). */
  private exported(splay: boolean): Array<ExportedValue<L>> {
    const values: Array<ExportedValue<L>> = [];
    const entry = (
      le: { le?: string | number },
      labels: Readonly<Record<L, string>>,
      value: number,
      suffix: string,
      exemplar: null | undefined,
    ): ExportedValue<L> =>
      splay
        ? { value, metricName: this.metricName + suffix, exemplar, labels: { ...le, ...labels } }
        : {
            labels: le,
            sharedLabels: labels,
            value,
            metricName: this.metricName + suffix,
            exemplar,
          };
    for (const s of this.series.values()) {
      // A series bound but never observed into is not exposed yet (as prom-client's child).
      if (s.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i] as number;
        values.push(entry({ le: this.bounds[i] as number }, s.labels, acc, '_bucket', null));
      }
      values.push(entry({ le: '+Inf' }, s.labels, s.count, '_bucket', null));
      values.push(entry({}, s.labels, s.sum, '_sum', undefined));
      values.push(entry({}, s.labels, s.count, '_count', undefined));
    }
    return values;
  }

  /** What the registry's text exposition reads (prom-client calls this when it exists). */
  getForPromString(): Promise<Exported<L>> {
    return Promise.resolve(this.object(false));
  }

  /**
   * What `getMetricsAsJSON` (and so the `--workers` aggregation) reads. prom-client's typings
   * declare `type` as an enum where its runtime (and this) has the string `histogram`: hence the
   * one conversion here.
   */
  override get(): ReturnType<Histogram<L>['get']> {
    return Promise.resolve(this.object(true)) as unknown as ReturnType<Histogram<L>['get']>;
  }

  private object(splay: boolean): Exported<L> {
    return {
      name: this.metricName,
      help: this.helpText,
      type: 'histogram',
      values: this.exported(splay),
      aggregator: this.aggregate,
    };
  }

  override reset(): void {
    // Also called by prom-client's constructor, before this class's fields exist.
    this.series?.clear();
  }
}
