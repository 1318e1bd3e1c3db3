/**
 * OpenMetrics rendering of a Prometheus-format registry.
 *
 * prom-client (15.x) renders OpenMetrics by renaming each counter object in
 * place (`name` loses its `_total`), so a registry that once rendered
 * OpenMetrics renders `orchestrator_retries` instead of
 * `orchestrator_retries_total` in the Prometheus format from then on, and a
 * registry's format is fixed at construction anyway. So the agent keeps one
 * Prometheus registry and renders OpenMetrics through a second registry of
 * thin views: each view reads the real metric's values and carries its own
 * name, so the real metrics are never renamed.
 */
import { Registry, type Metric, type OpenMetricsContentType } from 'prom-client';

interface MetricData {
  name: string;
  help: string;
  type: string;
  values: unknown[];
  aggregator: string;
}

/** The parts of a prom-client metric object a Registry uses to serialise it. */
interface Serialisable {
  name: string;
  help: string;
  type: string;
  get(): Promise<MetricData> | MetricData;
  getForPromString?(): Promise<MetricData> | MetricData;
}

function viewOf(metric: Serialisable): Serialisable {
  // OpenMetrics names the counter family without `_total`; its samples get it back.
  const name = metric.type === 'counter' ? metric.name.replace(/_total$/, '') : metric.name;
  const view: Serialisable = {
    name,
    help: metric.help,
    type: metric.type,
    get: async () => ({ ...(await metric.get()), name: view.name }),
  };
  if (typeof metric.getForPromString === 'function') {
    const read = metric.getForPromString.bind(metric);
    view.getForPromString = async () => ({ ...(await read()), name: view.name });
  }
  return view;
}

/** An OpenMetrics registry of views over every metric of `source` at the time of the call. */
export function openMetricsView(source: Registry): Registry<OpenMetricsContentType> {
  const view = new Registry<OpenMetricsContentType>();
  view.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const metric of source.getMetricsAsArray()) {
    view.registerMetric(viewOf(metric as unknown as Serialisable) as unknown as Metric<string>);
  }
  return view;
}
