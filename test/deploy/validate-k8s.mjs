/* global process, console */
// Validates Kubernetes manifests against kubernetes-models' OpenAPI schemas (and the Prometheus
// Operator's for ServiceMonitor), offline. ESM-only packages, so this runs as its own process.
// usage: node validate-k8s.mjs FILE...  -> one JSON line per file: {file, kind, ok, error?}
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

const MODELS = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const obj = doc.toJS();
    const kind = `${obj.apiVersion}/${obj.kind}`;
    const Model = MODELS[kind];
    try {
      if (!Model) throw new Error(`no schema known for ${kind}`);
      new Model(obj).validate();
      console.log(JSON.stringify({ file, kind, ok: true }));
    } catch (err) {
      console.log(JSON.stringify({ file, kind, ok: false, error: String(err.message ?? err) }));
    }
  }
}
