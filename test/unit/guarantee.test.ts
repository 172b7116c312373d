import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { Auditor } from '../../src/audit/auditor.js';
import { stringAt, type JsonObject } from '../../src/core/json.js';
import { GOVERNED_KINDS, governedKindOfManifest, groupOf, isClusterScoped } from '../../src/core/kinds.js';
import { Engine, type ResolvedFinding } from '../../src/engine/engine.js';
import { decide, reviewInputOf } from '../../src/engine/pipeline.js';
import { ClusterState } from '../../src/lookup/cluster-state.js';
import { addToState } from '../../src/lookup/inventory.js';
import { NO_CLUSTER, type ClusterLookup } from '../../src/lookup/lookup.js';
import { BUNDLED_POLICIES_DIR } from '../../src/policy/load.js';
import { loadPolicies, parsePolicies } from '../../src/engine/policies.js';
import { POLICY_SECTIONS, type Policy, type PolicySection } from '../../src/policy/model.js';
import { buildServer } from '../../src/server/app.js';
import { WebhookState } from '../../src/server/state.js';

// The guarantee behind failurePolicy: Fail: the webhook never denies because of its own patch, its patch is
// idempotent (the API server may call it again on its own output), and the server, `storage-policy review` and
// the audit reach one verdict for one object and cluster. Checked over generated clusters, objects and policy
// sets; every counterexample found while writing this became a named case in self-denial.test.ts.

const RUNS = Number(process.env['GUARANTEE_RUNS'] ?? 250);
const ZONES = ['us-east-1a', 'us-east-1b', 'us-west-2a'];
const CLASS_NAMES = ['gp3', 'io1', 'io2', 'efs', 'intree', 'gke', 'other'];
const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];
const DEFAULT_CLASS = 'storageclass.kubernetes.io/is-default-class';
const BETA_CLASS = 'volume.beta.kubernetes.io/storage-class';

const optional = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arbitrary, { nil: undefined, freq: 3 });
const compact = (object: Record<string, unknown>): JsonObject => JSON.parse(JSON.stringify(object)) as JsonObject;
const zoneList = fc.subarray(ZONES, { minLength: 1 });
const ebsType = fc.constantFrom('gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard', 'gp4');
/** The spellings the driver's base-10 integer parse meets: leading zeros, a sign, zero, a decimal, junk. */
const driverInteger = fc.constantFrom('50', '050', '+50', '0', '1000', '16000', '2.5', 'x', '3000', '500');

const storageClassParameters = fc.record(
  {
    type: optional(ebsType),
    iopsPerGB: optional(driverInteger),
    iops: optional(driverInteger),
    throughput: optional(fc.constantFrom('125', '250', '1000', '3000')),
    allowAutoIOPSPerGBIncrease: optional(fc.constantFrom('true', 'false')),
    zone: optional(fc.constantFrom(...ZONES)),
    zones: optional(zoneList.map((zones) => zones.join(','))),
    encrypted: optional(fc.constantFrom('true', 'false')),
  },
  { requiredKeys: [] },
);

const storageClassOf = (name: fc.Arbitrary<string>) =>
  fc
    .record({
      name,
      provisioner: fc.constantFrom(
        'ebs.csi.aws.com',
        'kubernetes.io/aws-ebs',
        'efs.csi.aws.com',
        'pd.csi.storage.gke.io',
        'kubernetes.io/gce-pd',
        'unknown.example.com',
      ),
      parameters: storageClassParameters,
      volumeBindingMode: optional(fc.constantFrom('Immediate', 'WaitForFirstConsumer')),
      topology: optional(
        fc.record({
          key: fc.constantFrom('topology.kubernetes.io/zone', 'topology.ebs.csi.aws.com/zone', 'topology.gke.io/zone'),
          values: zoneList,
        }),
      ),
      isDefault: fc.boolean(),
      allowVolumeExpansion: optional(fc.boolean()),
      reclaimPolicy: optional(fc.constantFrom('Delete', 'Retain')),
    })
    .map(
      ({
        name,
        provisioner,
        parameters,
        volumeBindingMode,
        topology,
        isDefault,
        allowVolumeExpansion,
        reclaimPolicy,
      }) =>
        compact({
          apiVersion: 'storage.k8s.io/v1',
          kind: 'StorageClass',
          metadata: {
            name,
            ...(isDefault ? { annotations: { [DEFAULT_CLASS]: 'true' } } : {}),
            creationTimestamp: '2026-01-01T00:00:00Z',
          },
          provisioner,
          parameters,
          volumeBindingMode,
          allowVolumeExpansion,
          reclaimPolicy,
          allowedTopologies: topology ? [{ matchLabelExpressions: [topology] }] : undefined,
        }),
    );

const attributesClassOf = (name: fc.Arbitrary<string>) =>
  fc
    .record({
      name,
      driverName: fc.constantFrom('ebs.csi.aws.com', 'efs.csi.aws.com'),
      iops: optional(driverInteger),
      type: optional(ebsType),
    })
    .map(({ name, driverName, iops, type }) =>
      compact({
        apiVersion: 'storage.k8s.io/v1',
        kind: 'VolumeAttributesClass',
        metadata: { name },
        driverName,
        parameters: { iops, type },
      }),
    );

/** A cluster: classes (in-tree and CSI, zone parameters, topology, a default or none), VACs of either driver, zoned nodes; or nothing known. */
const clusterObjects = fc.record({
  known: fc.boolean(),
  classes: fc.uniqueArray(storageClassOf(fc.constantFrom(...CLASS_NAMES)), {
    selector: (object) => JSON.stringify((object['metadata'] as JsonObject)['name']),
    maxLength: 6,
  }),
  attributesClasses: fc.uniqueArray(attributesClassOf(fc.constantFrom('ebs-fast', 'efs-vac', 'io2-max')), {
    selector: (object) => JSON.stringify((object['metadata'] as JsonObject)['name']),
    maxLength: 3,
  }),
  nodeZones: fc.subarray(ZONES),
});
type ClusterObjects = typeof clusterObjects extends fc.Arbitrary<infer T> ? T : never;

function lookupOf(generated: ClusterObjects): ClusterLookup {
  if (!generated.known) return NO_CLUSTER;
  const state = new ClusterState();
  const nodes = generated.nodeZones.map((zone, index) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${index}`, labels: { 'topology.kubernetes.io/zone': zone } },
  }));
  const namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'payments', labels: { team: 'payments' } },
  };
  // Claims a generated claim may clone: one in Filesystem mode, one in Block mode.
  const sources = [
    { name: 'source-db', volumeMode: 'Filesystem', storageClassName: 'gp3' },
    { name: 'source-block', volumeMode: 'Block', storageClassName: 'efs' },
  ].map(({ name, volumeMode, storageClassName }) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'payments' },
    spec: {
      storageClassName,
      volumeMode,
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '100Gi' } },
    },
  }));
  addToState(state, [...generated.classes, ...generated.attributesClasses, ...nodes, namespace, ...sources]);
  return state;
}

const claimSpec = fc
  .record({
    className: fc.oneof(fc.constantFrom(...CLASS_NAMES), fc.constant(''), fc.constant(undefined)),
    legacyAnnotation: fc.boolean(),
    accessModes: fc.subarray(ACCESS_MODES, { minLength: 1, maxLength: 2 }),
    volumeMode: optional(fc.constantFrom('Filesystem', 'Block')),
    storage: fc.constantFrom('1Gi', '3Gi', '10Gi', '100Gi', '500Gi', '4Ti', '20Ti', '1500M'),
    attributesClass: optional(fc.constantFrom('ebs-fast', 'efs-vac', 'io2-max', 'missing-vac')),
    cloneOf: optional(fc.constantFrom('source-db', 'source-block', 'missing-source')),
  })
  .map(({ className, legacyAnnotation, accessModes, volumeMode, storage, attributesClass, cloneOf }) => ({
    annotations: legacyAnnotation && className !== undefined ? { [BETA_CLASS]: className } : undefined,
    spec: compact({
      storageClassName: legacyAnnotation ? undefined : className,
      accessModes,
      volumeMode,
      resources: { requests: { storage } },
      volumeAttributesClassName: attributesClass,
      dataSourceRef: cloneOf ? { kind: 'PersistentVolumeClaim', name: cloneOf } : undefined,
    }),
  }));

const persistentVolumeClaim = claimSpec.map(({ annotations, spec }) =>
  compact({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: 'payments', annotations },
    spec,
  }),
);

const podSpec = fc
  .record({
    selectorZone: optional(fc.constantFrom(...ZONES)),
    deprecatedZone: optional(fc.constantFrom(...ZONES)),
    affinityZones: optional(zoneList),
  })
  .map(({ selectorZone, deprecatedZone, affinityZones }) =>
    compact({
      containers: [{ name: 'db', image: 'postgres' }],
      nodeSelector:
        selectorZone || deprecatedZone
          ? { 'topology.kubernetes.io/zone': selectorZone, 'failure-domain.beta.kubernetes.io/zone': deprecatedZone }
          : undefined,
      affinity: affinityZones
        ? {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: affinityZones }] },
                ],
              },
            },
          }
        : undefined,
    }),
  );

const statefulSet = fc
  .record({
    templates: fc.array(claimSpec, { minLength: 1, maxLength: 2 }),
    podSpec,
    replicas: fc.integer({ min: 0, max: 5 }),
  })
  .map(({ templates, podSpec, replicas }) =>
    compact({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'payments' },
      spec: {
        replicas,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: podSpec },
        volumeClaimTemplates: templates.map(({ annotations, spec }, index) => ({
          metadata: { name: `data${index}`, annotations },
          spec,
        })),
      },
    }),
  );

/**
 * A Pod or a workload whose pod spec carries generic ephemeral volumes (claims the ephemeral-volume controller makes)
 * and now and then a CSI inline volume.
 */
const podSpecWorkload = fc
  .record({
    kind: fc.constantFrom('Pod', 'Deployment', 'ReplicaSet', 'DaemonSet', 'Job', 'CronJob', 'StatefulSet'),
    templates: fc.array(claimSpec, { minLength: 1, maxLength: 2 }),
    inlineDriver: optional(fc.constantFrom('secrets-store.csi.k8s.io', 'ebs.csi.aws.com')),
    podSpec,
    replicas: fc.integer({ min: 0, max: 5 }),
  })
  .map(({ kind, templates, inlineDriver, podSpec, replicas }) => {
    const volumes = [
      ...templates.map(({ annotations, spec }, index) => ({
        name: `scratch${index}`,
        ephemeral: { volumeClaimTemplate: { metadata: compact({ annotations }), spec } },
      })),
      ...(inlineDriver ? [{ name: 'inline', csi: { driver: inlineDriver } }] : []),
    ];
    const pod = { ...podSpec, volumes };
    const template = { metadata: { labels: { app: 'batch' } }, spec: pod };
    const specs: Record<string, JsonObject> = {
      Pod: pod,
      Deployment: { replicas, selector: { matchLabels: { app: 'batch' } }, template },
      ReplicaSet: { replicas, selector: { matchLabels: { app: 'batch' } }, template },
      StatefulSet: { replicas, serviceName: 'batch', selector: { matchLabels: { app: 'batch' } }, template },
      DaemonSet: { selector: { matchLabels: { app: 'batch' } }, template },
      Job: { parallelism: replicas, template },
      CronJob: { schedule: '0 * * * *', jobTemplate: { spec: { template } } },
    };
    const group = { Pod: 'v1', Job: 'batch/v1', CronJob: 'batch/v1' }[kind as 'Pod' | 'Job' | 'CronJob'];
    return compact({
      apiVersion: group ?? 'apps/v1',
      kind,
      metadata: { name: 'batch', namespace: 'payments' },
      spec: specs[kind],
    });
  });

/** A static volume of each source kind (and now and then a provisioned one), with zones, modes and policies a user might write. */
const persistentVolume = fc
  .record({
    source: fc.constantFrom('nfs', 'hostPath', 'csi-ebs', 'csi-efs', 'awsElasticBlockStore', 'local', 'iscsi'),
    accessModes: fc.subarray(ACCESS_MODES, { minLength: 1, maxLength: 2 }),
    volumeMode: optional(fc.constantFrom('Filesystem', 'Block')),
    className: optional(fc.constantFrom(...CLASS_NAMES)),
    reclaimPolicy: optional(fc.constantFrom('Delete', 'Retain', 'Recycle')),
    zones: optional(zoneList),
    storage: fc.constantFrom('1Gi', '100Gi', '20Ti'),
    provisioned: fc.boolean(),
  })
  .map(({ source, accessModes, volumeMode, className, reclaimPolicy, zones, storage, provisioned }) => {
    const sources: Record<string, JsonObject> = {
      nfs: { nfs: { server: 'nfs.example.com', path: '/exports/a' } },
      hostPath: { hostPath: { path: '/mnt/a' } },
      'csi-ebs': { csi: { driver: 'ebs.csi.aws.com', volumeHandle: 'vol-1' } },
      'csi-efs': { csi: { driver: 'efs.csi.aws.com', volumeHandle: 'fs-1' } },
      awsElasticBlockStore: { awsElasticBlockStore: { volumeID: 'vol-2' } },
      local: { local: { path: '/mnt/disks/a' } },
      iscsi: { iscsi: { targetPortal: '10.0.0.1:3260', iqn: 'iqn.2001-04.com.example:a', lun: 0 } },
    };
    return compact({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: {
        name: 'static-1',
        annotations: provisioned ? { 'pv.kubernetes.io/provisioned-by': 'ebs.csi.aws.com' } : undefined,
      },
      spec: {
        capacity: { storage },
        accessModes,
        volumeMode,
        storageClassName: className,
        persistentVolumeReclaimPolicy: reclaimPolicy,
        ...sources[source],
        nodeAffinity: zones
          ? {
              required: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: zones }] },
                ],
              },
            }
          : undefined,
      },
    });
  });

const reviewedObject = fc.oneof(
  { weight: 4, arbitrary: persistentVolumeClaim },
  { weight: 3, arbitrary: statefulSet },
  { weight: 2, arbitrary: storageClassOf(fc.constant('new-class')) },
  { weight: 1, arbitrary: attributesClassOf(fc.constant('new-vac')) },
  { weight: 2, arbitrary: persistentVolume },
  { weight: 3, arbitrary: podSpecWorkload },
);

const action = fc.constantFrom('deny', 'warn', 'audit');
const classList = fc.subarray(CLASS_NAMES, { minLength: 1, maxLength: 4 });

/**
 * Allowed and denied lists, then the classes the policy writes (defaults, fallback) drawn from what those lists
 * admit: the loader refuses a policy whose own lists forbid what it writes, so drawing them blindly wastes most runs.
 */
const storageClassesSection = fc
  .record({ allowed: optional(classList), denied: optional(classList) }, { requiredKeys: [] })
  .chain(({ allowed, denied }) => {
    const admissible = CLASS_NAMES.filter(
      (name) => (!allowed || allowed.includes(name)) && !(denied ?? []).includes(name),
    );
    const written = admissible.length > 0 ? optional(fc.constantFrom(...admissible)) : fc.constant(undefined);
    return fc
      .record({
        defaults: fc.array(
          fc.record({ class: written, whenAccessModes: optional(fc.subarray(ACCESS_MODES, { minLength: 1 })) }),
          { maxLength: 2 },
        ),
        fallback: written,
        required: optional(fc.boolean()),
        emptyClass: optional(fc.constantFrom('allow', 'deny')),
        missingClass: optional(fc.constantFrom('allow', 'warn', 'deny')),
        singleClusterDefault: optional(fc.boolean()),
      })
      .map(({ defaults, ...rest }) => {
        const chosen = defaults.filter((choice) => choice.class !== undefined);
        return compact({ allowed, denied, ...rest, defaults: chosen.length > 0 ? chosen : undefined });
      });
  });

/** One generator per policy section, keyed by the section: a section the model gains and this lacks fails to compile. */
const sections: { [S in PolicySection]: fc.Arbitrary<unknown> } = {
  storageClasses: storageClassesSection,
  accessModes: fc.record(
    {
      unknownProvisioner: fc.constantFrom('allow', 'warn', 'deny'),
      allowed: fc.subarray(ACCESS_MODES, { minLength: 1 }),
      denied: fc.subarray(ACCESS_MODES, { minLength: 1 }),
    },
    { requiredKeys: [] },
  ),
  zones: fc.record(
    { allowed: zoneList, addAllowedTopologies: fc.boolean(), pinStatefulSets: fc.boolean() },
    { requiredKeys: ['allowed'] },
  ),
  iops: fc.record(
    {
      maxPerVolume: fc.constantFrom(3000, 16000, 64000),
      maxPerNamespace: fc.constantFrom(10000, 100000),
      maxThroughputPerVolume: fc.constantFrom(250, 1000),
      annotateQuote: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
  capacity: fc.record(
    { min: fc.constantFrom('1Gi', '5Gi'), max: fc.constantFrom('1Ti', '16Ti') },
    { requiredKeys: [] },
  ),
  providerLimits: fc.record({
    ebs: fc.dictionary(
      fc.constantFrom('gp3', 'io1', 'io2'),
      fc.record(
        {
          maxIops: fc.constantFrom(16000, 40000),
          maxGiB: fc.constantFrom(1024, 8192),
          minIops: fc.constantFrom(100, 3000),
        },
        { requiredKeys: [] },
      ),
      { minKeys: 1, maxKeys: 2 },
    ),
  }),
  claimMetadata: fc.record({
    required: fc.array(
      fc.oneof(
        fc.record({ label: fc.constantFrom('team', 'cost-center') }),
        fc.record({ annotation: fc.constantFrom('owner', 'example.com/ticket'), ifPresent: fc.boolean() }),
        fc.record({
          label: fc.constant('team'),
          pattern: fc.constantFrom('^[a-z]+$', '^team-'),
          whenClasses: fc.subarray(CLASS_NAMES, { minLength: 1 }),
        }),
      ),
      { minLength: 1, maxLength: 2 },
    ),
  }),
  volumeAttributesClasses: fc.record(
    {
      allowed: fc.subarray(['ebs-fast', 'efs-vac', 'io2-max'], { minLength: 1 }),
      default: fc.constantFrom('ebs-fast', 'efs-vac'),
    },
    { requiredKeys: [] },
  ),
  persistentVolumes: fc
    .record(
      {
        sources: fc.subarray(['nfs', 'hostPath', 'csi', 'local', 'iscsi'], { minLength: 1 }),
        csiDrivers: fc.subarray(['ebs.csi.aws.com', 'efs.csi.aws.com'], { minLength: 1 }),
        reclaimPolicies: fc.subarray(['Delete', 'Retain', 'Recycle'], { minLength: 1 }),
        capacity: fc.record(
          { min: fc.constantFrom('1Gi', '10Gi'), max: fc.constantFrom('1Ti', '16Ti') },
          { requiredKeys: [] },
        ),
        requiredLabels: fc.constantFrom(['team'], ['team', 'tier']),
      },
      { requiredKeys: [] },
    )
    .filter((section) => Object.keys(section).length > 0),
  dataSources: fc.record({
    allowedKinds: fc.subarray(['PersistentVolumeClaim', 'VolumeSnapshot'], { minLength: 1 }),
  }),
  inlineVolumes: fc.record({ csiDrivers: fc.subarray(['secrets-store.csi.k8s.io', 'ebs.csi.aws.com']) }),
  cost: fc
    .record(
      { maxPerClaim: fc.constantFrom(5, 50, 500), maxPerNamespace: fc.constantFrom(100, 10_000) },
      { requiredKeys: [] },
    )
    .filter((section) => Object.keys(section).length > 0),
  classRequirements: fc.record(
    {
      reclaimPolicies: fc.subarray(['Delete', 'Retain'], { minLength: 1 }),
      volumeBindingMode: fc.constantFrom('Immediate', 'WaitForFirstConsumer'),
    },
    { requiredKeys: [] },
  ),
};

/** A policy spec over every section and kind, as a user could write it; the loader (ajv and the load-time checks) decides which are valid. */
const policySpec = fc.record(
  {
    priority: fc.integer({ min: 0, max: 10 }),
    action,
    lookupFailure: fc.constantFrom('allow', 'warn', 'deny'),
    match: fc.record({ kinds: fc.subarray([...GOVERNED_KINDS], { minLength: 1 }) }),
    ...sections,
  },
  { requiredKeys: ['match'] },
);

const generatedPolicySet = fc.array(policySpec, { minLength: 1, maxLength: 3 }).map((specs) => {
  const text = specs
    .map((spec, index) =>
      stringify({
        apiVersion: 'storage-policy-webhook.io/v1alpha1',
        kind: 'StoragePolicy',
        metadata: { name: `generated-${index}` },
        spec,
      }),
    )
    .join('---\n');
  const { policies, problems } = parsePolicies(text, 'generated.yaml');
  return problems.length === 0 ? policies : undefined;
});

/** Every policy this repository ships or tests with: the bundled set, and each peer translation on its own. */
function shippedPolicySets(): Policy[][] {
  const peers = fileURLToPath(new URL('../../../test/peers', import.meta.url));
  const sets: Policy[][] = [];
  for (const folder of readdirSync(peers, { withFileTypes: true }).filter((entry) => entry.isDirectory())) {
    for (const file of readdirSync(join(peers, folder.name)).filter(
      (name) => name.endsWith('.yaml') && !name.endsWith('.test.yaml'),
    )) {
      const { policies } = parsePolicies(readFileSync(join(peers, folder.name, file), 'utf8'), file);
      if (policies.length > 0) sets.push(policies);
    }
  }
  return sets;
}

type Operation = 'CREATE' | 'UPDATE';
const operation = fc.constantFrom<Operation>('CREATE', 'UPDATE');

const key = (finding: ResolvedFinding): string => `${finding.policy.name} ${finding.rule} ${finding.path}`;

describe('property: the webhook never denies its own patch, and its answers agree', () => {
  let bundled: Policy[];
  let shipped: Policy[][];
  before(async () => {
    bundled = (await loadPolicies(BUNDLED_POLICIES_DIR)).policies;
    shipped = shippedPolicySets();
  });
  const policySets = (): fc.Arbitrary<Policy[]> =>
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(bundled) },
      { weight: 1, arbitrary: fc.constantFrom(...shipped) },
      { weight: 4, arbitrary: generatedPolicySet.filter((set): set is Policy[] => set !== undefined) },
    );

  it('the generators cover what they claim: most generated policy sets load, with every section and kind represented', () => {
    const sets = fc.sample(generatedPolicySet, { numRuns: 400, seed: 42 });
    const loaded = sets.filter((set): set is Policy[] => set !== undefined).flat();
    assert.ok(loaded.length > 200, `${loaded.length} policies loaded from 400 generated sets`);
    for (const section of POLICY_SECTIONS) {
      assert.ok(loaded.filter((policy) => policy[section] !== undefined).length > 20, `policies with ${section}`);
    }
    assert.ok(
      loaded.some(
        (policy) => policy.storageClasses?.fallback !== undefined && policy.storageClasses.allowed !== undefined,
      ),
      'a fallback beside an allow list',
    );
    assert.ok(
      loaded.some(
        (policy) => policy.zones?.addAllowedTopologies === true && policy.match.kinds.includes('StorageClass'),
      ),
      'classes given allowedTopologies',
    );
    const objects = fc.sample(reviewedObject, { numRuns: 400, seed: 42 });
    for (const kind of GOVERNED_KINDS)
      assert.ok(
        objects.some((object) => object['kind'] === kind),
        kind,
      );
  });

  it('(a) validating the mutated object finds nothing that validating the object as sent did not, and (b) mutating again changes nothing', () => {
    fc.assert(
      fc.property(policySets(), clusterObjects, reviewedObject, operation, (policies, cluster, object, op) => {
        const engine = new Engine({ policies, lookup: lookupOf(cluster) });
        const input = reviewInputOf({ object, operation: op, oldObject: op === 'UPDATE' ? object : undefined });
        assert.ok(input);
        const mutated = engine.mutate(input);
        const before = new Set(engine.validate(input).map(key));
        const after = engine.validate({ ...input, object: mutated.object });
        // A fallback rewrite substitutes another class, with its own judgement: it is kept only when that admits the claim.
        const substituted = mutated.notes.some((note) => note.onlyIfAdmitted);
        const caused = after.filter(
          (finding) => !before.has(key(finding)) && (!substituted || finding.action === 'deny'),
        );
        assert.deepEqual(
          caused.map((finding) => `${key(finding)}: ${finding.message}`),
          [],
          `the webhook's own patch ${JSON.stringify(mutated.patch)} caused findings`,
        );
        const again = engine.mutate({ ...input, object: mutated.object });
        assert.deepEqual(again.patch, [], 'a second mutation of the mutated object patches nothing');
      }),
      { numRuns: RUNS },
    );
  });

  it('(d) a claim UPDATE that changes only what no family declares it reads is admitted: the matchConditions that skip it let nothing in', () => {
    const controllerWrites = fc.record(
      {
        volumeName: fc.constantFrom('pv-1', 'pvc-0d1c'),
        annotations: fc.dictionary(
          fc.constantFrom(
            'pv.kubernetes.io/bind-completed',
            'pv.kubernetes.io/bound-by-controller',
            'volume.kubernetes.io/storage-provisioner',
            'volume.kubernetes.io/selected-node',
          ),
          fc.constantFrom('yes', 'ebs.csi.aws.com', 'node-1'),
          { minKeys: 1 },
        ),
        finalizers: fc.constant(['kubernetes.io/pvc-protection']),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        policySets(),
        clusterObjects,
        persistentVolumeClaim,
        controllerWrites,
        (policies, cluster, stored, writes) => {
          const engine = new Engine({ policies, lookup: lookupOf(cluster) });
          const metadata = stored['metadata'] as JsonObject;
          const updated = compact({
            ...stored,
            metadata: {
              ...metadata,
              finalizers: writes.finalizers,
              annotations: { ...(metadata['annotations'] as JsonObject | undefined), ...writes.annotations },
            },
            spec: { ...(stored['spec'] as JsonObject), volumeName: writes.volumeName },
          });
          const input = reviewInputOf({ object: updated, operation: 'UPDATE', oldObject: stored });
          assert.ok(input);
          const verdict = decide(engine, input, 'both');
          assert.equal(verdict.allowed, true, verdict.message);
        },
      ),
      { numRuns: RUNS },
    );
  });

  describe('(c) the server, review and the audit', () => {
    let state: WebhookState;
    let app: ReturnType<typeof buildServer>;
    let lookup: ClusterLookup = NO_CLUSTER;
    before(async () => {
      state = new WebhookState({
        storageClass: (name) => lookup.storageClass(name),
        storageClasses: () => lookup.storageClasses(),
        statefulSet: (namespace, name) => lookup.statefulSet(namespace, name),
        volume: (name) => lookup.volume(name),
        snapshot: (namespace, name) => lookup.snapshot(namespace, name),
        attributesClass: (name) => lookup.attributesClass(name),
        namespaceLabels: (namespace) => lookup.namespaceLabels(namespace),
        namespaceTotal: (namespace, exclude, measure) => lookup.namespaceTotal(namespace, exclude, measure),
        nodeZones: () => lookup.nodeZones(),
        statefulSetTemplates: (namespace, name) => lookup.statefulSetTemplates(namespace, name),
        claim: (namespace, name) => lookup.claim(namespace, name),
      });
      app = buildServer({ state, logger: pino({ level: 'silent' }) });
      await app.ready();
    });
    after(() => app.close());

    const post = async (
      path: string,
      object: JsonObject,
      op: Operation,
      oldObject: JsonObject,
    ): Promise<JsonObject> => {
      const kind = stringAt(object, 'kind') ?? '';
      const governed = governedKindOfManifest(object);
      assert.ok(governed, kind);
      const metadata = object['metadata'] as JsonObject;
      const body = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'guarantee',
          kind: { group: groupOf(governed), version: 'v1', kind },
          name: metadata['name'],
          ...(isClusterScoped(governed) ? {} : { namespace: 'payments' }),
          operation: op,
          userInfo: { username: 'alice' },
          object,
          oldObject: op === 'UPDATE' ? oldObject : null,
        },
      };
      const response = await app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
      assert.equal(response.statusCode, 200, response.body);
      const answer: { response: JsonObject } = response.json();
      return answer.response;
    };

    it('give one verdict for one object and cluster', async () => {
      await fc.assert(
        fc.asyncProperty(
          policySets(),
          clusterObjects,
          reviewedObject,
          operation,
          async (policies, cluster, object, op) => {
            lookup = lookupOf(cluster);
            state.swap({ policies, exceptions: [], files: [], locate: () => undefined });
            const engine = state.engine;
            assert.ok(engine);
            const input = reviewInputOf({ object, operation: op, oldObject: op === 'UPDATE' ? object : undefined });
            assert.ok(input);
            const offline = decide(engine, input, 'both');

            const mutation = await post('/mutate', object, op, object);
            const patch =
              typeof mutation['patch'] === 'string'
                ? JSON.parse(Buffer.from(mutation['patch'], 'base64').toString('utf8'))
                : [];
            const stored: JsonObject = jsonPatch.applyPatch(structuredClone(object), patch, true, false).newDocument;
            assert.deepEqual(stored, offline.object, 'the server patches as review does');
            // The API server sends the validating webhook the mutated object, and oldObject as it was stored.
            const validation = await post('/validate', stored, op, object);
            assert.equal(
              validation['allowed'],
              offline.allowed,
              `server ${JSON.stringify(validation)} against review ${offline.message ?? 'allowed'}`,
            );
            assert.equal((validation['status'] as JsonObject | undefined)?.['message'], offline.message);

            if (op !== 'CREATE') return;
            // The audit judges the stored object as it stands, through the production path (Auditor.upsert keeps
            // a trimmed copy): what a CREATE of it denies is what the audit fails.
            const auditor = new Auditor({ keepResults: true });
            auditor.upsert(stored);
            auditor.run(engine, new Date(0));
            const failed = auditor
              .reports()
              .flatMap((report) => report.results ?? [])
              .filter((result) => result.result === 'fail')
              .map((result) => `${result.policy} ${result.rule}`);
            const denied = offline.findings
              .filter((finding) => finding.action === 'deny')
              .map((finding) => `${finding.policy.name} ${finding.rule}`);
            assert.deepEqual(
              [...new Set(failed)].sort(),
              [...new Set(denied)].sort(),
              'the audit fails what admission denies',
            );
          },
        ),
        { numRuns: RUNS },
      );
    });
  });
});
