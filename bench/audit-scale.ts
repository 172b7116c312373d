import type { JsonObject } from '../src/core/json.js';
import { Auditor } from '../src/audit/auditor.js';
import { Engine } from '../src/engine/engine.js';
import { ClusterState } from '../src/lookup/cluster-state.js';
import { addToState } from '../src/lookup/inventory.js';
import { loadPolicies } from '../src/engine/policies.js';

/** 10,000 claims and 1,000 StatefulSets over 100 namespaces, as a list of a live cluster would give them. */
export function auditInventory(): JsonObject[] {
  const objects: JsonObject[] = [];
  const classes = ['gp3', 'io2-high-iops', 'efs', 'io1-slow'];
  for (let index = 0; index < 100; index += 1)
    objects.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: `team-${index}`, labels: { team: String(index) } },
    });
  for (let index = 0; index < 10_000; index += 1) {
    objects.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: `claim-${index}`,
        namespace: `team-${index % 100}`,
        uid: `uid-${index}`,
        managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      },
      spec: {
        storageClassName: classes[index % classes.length] ?? 'gp3',
        accessModes: [index % 7 === 0 ? 'ReadWriteMany' : 'ReadWriteOnce'],
        resources: { requests: { storage: `${(index % 50) + 1}Gi` } },
      },
      status: { phase: 'Bound' },
    });
  }
  for (let index = 0; index < 1_000; index += 1) {
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: `sts-${index}`, namespace: `team-${index % 100}`, uid: `sts-uid-${index}` },
      spec: {
        replicas: 3,
        serviceName: `sts-${index}`,
        selector: { matchLabels: { app: `sts-${index}` } },
        template: {
          metadata: { labels: { app: `sts-${index}` } },
          spec: { containers: [{ name: 'app', image: 'nginx:1.27', env: [{ name: 'A', value: 'x'.repeat(200) }] }] },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: {
              storageClassName: 'gp3',
              accessModes: ['ReadWriteOnce'],
              resources: { requests: { storage: '100Gi' } },
            },
          },
        ],
      },
    });
  }
  return objects;
}

export interface AuditScale {
  /** CPU time (user + system) of one full audit: every object judged and the reports built. */
  cpuMillis: number;
  /** JavaScript heap the audit holds afterwards, in MB (reports are built on demand and not kept). */
  heapMb: number;
  /** Memory outside the heap the audit holds: the subjects' and results' JSON text, in MB. */
  externalMb: number;
  failing: number;
}

/** One full audit of the inventory with the bundled policies, after a warm-up run on the same objects. */
export async function measureAudit(policiesDir: string, classesYaml: JsonObject[]): Promise<AuditScale> {
  const objects = auditInventory();
  const state = new ClusterState();
  addToState(state, [...classesYaml, ...objects]);
  const { policies } = await loadPolicies(policiesDir);
  const engine = new Engine({ policies, lookup: state });
  const warm = new Auditor();
  for (const object of objects.slice(0, 2000)) warm.upsert(object);
  warm.run(engine);
  warm.reports();
  global.gc?.();
  const before = process.memoryUsage();
  const auditor = new Auditor();
  const started = process.cpuUsage();
  for (const object of objects) auditor.upsert(object);
  auditor.run(engine);
  const failing = auditor.reports().reduce((sum, report) => sum + report.summary.fail, 0);
  const used = process.cpuUsage(started);
  global.gc?.();
  const after = process.memoryUsage();
  return {
    cpuMillis: (used.user + used.system) / 1000,
    heapMb: (after.heapUsed - before.heapUsed) / 2 ** 20,
    externalMb: (after.arrayBuffers - before.arrayBuffers) / 2 ** 20,
    // Read after the measurement, so the auditor is alive through it.
    failing: auditor.size > 0 ? failing : 0,
  };
}
