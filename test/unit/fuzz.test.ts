import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { pino } from 'pino';
import { isObject, type JsonObject, type JsonValue } from '../../src/core/json.js';
import { loadPolicies, parsePolicies } from '../../src/engine/policies.js';
import { BUNDLED_POLICIES_DIR } from '../../src/policy/load.js';
import { buildServer } from '../../src/server/app.js';
import { WebhookState } from '../../src/server/state.js';
import { cluster } from '../helpers.js';
import { stringify } from 'yaml';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);

/** Keys as users write them, and as attackers do: unicode, `/` and `~`, pointer look-alikes. */
// __proto__ and constructor included: StorageClass parameters are free-form, and such keys are data.
const key = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '__proto__',
    'a/b',
    '~',
    '~1',
    '~0/',
    'storageclass.kubernetes.io/is-default-class',
    'volume.beta.kubernetes.io/storage-class',
    'constructor',
    '💾/é',
  ),
);
const anyJson: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>;
/** A field that is usually right and sometimes any JSON at all. */
const maybe = <T extends JsonValue>(valid: fc.Arbitrary<T>): fc.Arbitrary<JsonValue> =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: anyJson });
const stringMap = fc.dictionary(key, maybe(fc.string()), { maxKeys: 5 });
const modes = fc.array(
  maybe(fc.constantFrom('ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod', 'Nope')),
  { maxLength: 4 },
);
const quantity = fc.oneof(fc.constantFrom('1Gi', '10Gi', '4Ti', '100M', '0', '1e3', '-5Gi', '1.5Gi', 'x'), fc.string());
const claimSpec = fc.record(
  {
    storageClassName: maybe(fc.constantFrom('', 'gp3', 'io1-slow', 'io2', 'efs', 'missing')),
    accessModes: maybe(modes),
    volumeMode: maybe(fc.constantFrom('Filesystem', 'Block')),
    resources: maybe(fc.record({ requests: maybe(fc.record({ storage: maybe(quantity) })) })),
  },
  { requiredKeys: [] },
);
const metadata = fc.record(
  { name: maybe(fc.string()), namespace: maybe(fc.string()), annotations: maybe(stringMap), labels: maybe(stringMap) },
  { requiredKeys: [] },
);
const pvc = fc.record({
  apiVersion: fc.constant('v1'),
  kind: fc.constant('PersistentVolumeClaim'),
  metadata: maybe(metadata),
  spec: maybe(claimSpec),
});
const term = fc.record(
  {
    matchExpressions: maybe(
      fc.array(
        fc.record({
          key: maybe(fc.constantFrom('topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone', 'x')),
          operator: maybe(fc.constantFrom('In', 'NotIn', 'Exists')),
          values: maybe(fc.array(fc.constantFrom('us-east-1a', 'us-east-1b', 'us-east-1c'))),
        }),
        { maxLength: 3 },
      ),
    ),
  },
  { requiredKeys: [] },
);
const podSpec = fc.record(
  {
    nodeSelector: maybe(
      fc.dictionary(
        fc.constantFrom('topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone', 'disk'),
        maybe(fc.constantFrom('us-east-1a', 'us-east-1z')),
      ),
    ),
    affinity: maybe(
      fc.record(
        {
          nodeAffinity: maybe(
            fc.record({
              requiredDuringSchedulingIgnoredDuringExecution: maybe(
                fc.record({ nodeSelectorTerms: maybe(fc.array(term, { maxLength: 3 })) }),
              ),
            }),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    containers: fc.constant<JsonValue>([{ name: 'c', image: 'i' }]),
  },
  { requiredKeys: [] },
);
const statefulSet = fc.record({
  apiVersion: fc.constant('apps/v1'),
  kind: fc.constant('StatefulSet'),
  metadata: maybe(metadata),
  spec: maybe(
    fc.record(
      {
        replicas: maybe(fc.integer({ min: -1, max: 50 })),
        template: maybe(fc.record({ spec: maybe(podSpec) }, { requiredKeys: [] })),
        volumeClaimTemplates: maybe(
          fc.array(fc.record({ metadata: maybe(metadata), spec: maybe(claimSpec) }, { requiredKeys: [] }), {
            maxLength: 3,
          }),
        ),
      },
      { requiredKeys: [] },
    ),
  ),
});
const storageClassObject = fc.record({
  apiVersion: fc.constant('storage.k8s.io/v1'),
  kind: fc.constant('StorageClass'),
  metadata: maybe(metadata),
  provisioner: maybe(fc.constantFrom('ebs.csi.aws.com', 'kubernetes.io/aws-ebs', 'efs.csi.aws.com', 'x')),
  parameters: maybe(
    fc.dictionary(
      fc.constantFrom('type', 'iopsPerGB', 'iops', 'IOPSPERGB', 'zones', 'allowAutoIOPSPerGBIncrease'),
      maybe(fc.constantFrom('io1', 'io2', 'gp3', '50', '60', '0', '1.5', 'true', 'us-east-1a,us-east-1z')),
    ),
  ),
  volumeBindingMode: maybe(fc.constantFrom('Immediate', 'WaitForFirstConsumer')),
  allowedTopologies: maybe(
    fc.array(
      fc.record({
        matchLabelExpressions: maybe(
          fc.array(
            fc.record({
              key: maybe(fc.constantFrom('topology.kubernetes.io/zone', 'x')),
              values: maybe(fc.array(fc.constantFrom('us-east-1a', 'us-east-1q'))),
            }),
            { maxLength: 2 },
          ),
        ),
      }),
      { maxLength: 2 },
    ),
  ),
});
const KIND_GROUPS: Record<string, string> = {
  PersistentVolumeClaim: '',
  StatefulSet: 'apps',
  StorageClass: 'storage.k8s.io',
};

function envelope(object: JsonObject, operation: string, oldObject?: JsonObject): string {
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'fuzz',
      kind: { group: KIND_GROUPS[kind], version: 'v1', kind },
      namespace: 'payments',
      operation,
      object,
      oldObject: oldObject ?? null,
    },
  });
}

/**
 * What every added value must be, wherever it lands: annotation maps of strings, a string class name,
 * lists where Kubernetes has lists. A Kubernetes object of that kind would not decode otherwise.
 */
function assertValidValue(value: JsonValue, key: string, where: string): void {
  if (key === 'annotations' || key === 'nodeSelector') {
    assert.ok(
      isObject(value) && Object.values(value).every((entry) => typeof entry === 'string'),
      `${where}: ${key} must map to strings`,
    );
  }
  if (key === 'storageClassName' || key === 'storage-policy-webhook.io/provisioned-iops')
    assert.equal(typeof value, 'string', `${where}: ${key} must be a string`);
  if (['nodeSelectorTerms', 'matchExpressions', 'allowedTopologies', 'matchLabelExpressions', 'values'].includes(key))
    assert.ok(Array.isArray(value), `${where}: ${key} must be a list`);
  if (Array.isArray(value)) value.forEach((entry) => assertValidValue(entry, '', where));
  else if (isObject(value)) Object.entries(value).forEach(([child, entry]) => assertValidValue(entry, child, where));
}

function assertValidShape(object: JsonValue, patch: Array<{ op: string; path: string; value?: JsonValue }>): void {
  assert.ok(isObject(object), 'the patched object is an object');
  for (const operation of patch) {
    if (operation.op === 'remove' || operation.value === undefined) continue;
    const tokens = operation.path.split('/').map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
    assertValidValue(operation.value, tokens[tokens.length - 1] ?? '', operation.path);
  }
}

describe('property: the admission handler', () => {
  let app: ReturnType<typeof buildServer>;
  before(async () => {
    const state = new WebhookState(cluster());
    state.swap(await loadPolicies(BUNDLED_POLICIES_DIR));
    app = buildServer({ state, logger: pino({ level: 'silent' }) });
    await app.ready();
  });
  after(() => app.close());
  const post = (url: string, payload: string) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });

  it('never answers 5xx to arbitrary bodies, and always with JSON', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          anyJson.map((value) => JSON.stringify(value)),
          fc
            .record({ apiVersion: fc.string(), kind: fc.string(), request: anyJson })
            .map((value) => JSON.stringify(value)),
        ),
        async (body) => {
          const response = await post('/validate', body);
          assert.ok(response.statusCode < 500, `${response.statusCode} for ${body.slice(0, 200)}`);
          assert.doesNotThrow(() => response.json());
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('answers every well-formed review with its uid, and every patch applies and leaves a valid object', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(pvc, statefulSet, storageClassObject) as fc.Arbitrary<JsonObject>,
        fc.constantFrom('CREATE', 'UPDATE'),
        async (object, operation) => {
          for (const path of ['/mutate', '/validate']) {
            const request = envelope(object, operation, operation === 'UPDATE' ? object : undefined);
            const response = await post(path, request);
            assert.equal(response.statusCode, 200, response.body);
            const body = response.json();
            assert.equal(body.response.uid, 'fuzz');
            if (path === '/validate') assert.equal(body.response.patch, undefined);
            for (const warning of body.response.warnings ?? [])
              assert.ok([...warning].length <= 120 && !warning.includes('\n'));
            if (body.response.patch) {
              const patch = JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8'));
              assert.ok(Array.isArray(patch) && patch.length > 0, 'an empty patch is no patch');
              assert.equal(jsonPatch.validate(patch, structuredClone(object)), undefined);
              const patched = jsonPatch.applyPatch(structuredClone(object), patch, true, false).newDocument;
              assertValidShape(patched, patch);
              if (operation === 'UPDATE')
                assert.ok(
                  patch.every(
                    (operation: { path: string }) =>
                      !operation.path.startsWith('/spec/volumeClaimTemplates') &&
                      !operation.path.startsWith('/parameters'),
                  ),
                  'no patch touches an immutable field on UPDATE',
                );
            }
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('survives deep nesting and huge strings, and still mutates', async () => {
    const request = (object: string) =>
      `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"deep","kind":{"group":"","version":"v1","kind":"PersistentVolumeClaim"},"namespace":"payments","operation":"CREATE","object":${object}}}`;
    const deep = `${'{"nested":'.repeat(100_000)}"leaf"${'}'.repeat(100_000)}`;
    const bodies = [
      request(
        `{"metadata":{"name":"x","annotations":{"big":"${'x'.repeat(1024 * 1024)}"}},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}`,
      ),
      request(
        `{"metadata":{"name":"x"},"spec":{"accessModes":["ReadWriteOnce"],"selector":${deep},"resources":{"requests":{"storage":"1Gi"}}}}`,
      ),
    ];
    for (const body of bodies) {
      const mutated = await post('/mutate', body);
      assert.equal(mutated.statusCode, 200, mutated.body.slice(0, 200));
      assert.ok(mutated.json().response.patch, 'the default class is still set');
      assert.equal((await post('/validate', body)).statusCode, 200);
    }
  });

  it('takes a __proto__ key as data: nothing is polluted, and the envelope is still validated (400)', async () => {
    const response = await post(
      '/validate',
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"p","__proto__":{"allowed":true}}}',
    );
    assert.equal(response.statusCode, 400);
    assert.equal(({} as Record<string, unknown>)['allowed'], undefined);
  });
});

describe('property: the policy loader', () => {
  it('turns any text into policies or problems, never a crash', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          anyJson.map((value) => stringify(value)),
        ),
        (text) => {
          const { problems, policies } = parsePolicies(text, 'fuzz.yaml');
          assert.ok(Array.isArray(problems) && Array.isArray(policies));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('reports wrong types in every field of a policy with a position', () => {
    const base = {
      apiVersion: 'storage-policy-webhook.io/v1alpha1',
      kind: 'StoragePolicy',
      metadata: { name: 'p' },
      spec: {
        match: {},
        storageClasses: { defaults: [{ class: 'gp3' }], allowed: ['gp3'] },
        zones: { allowed: ['a'] },
        iops: { maxPerVolume: 10 },
        capacity: { min: '1Gi' },
      },
    };
    const paths = [
      ['apiVersion'],
      ['metadata', 'name'],
      ['spec', 'match'],
      ['spec', 'storageClasses', 'defaults'],
      ['spec', 'storageClasses', 'allowed'],
      ['spec', 'zones', 'allowed'],
      ['spec', 'iops', 'maxPerVolume'],
      ['spec', 'capacity', 'min'],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...paths),
        fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant({ x: 1 }), fc.constant([1, 'a'])),
        (path, value) => {
          const document = structuredClone(base) as Record<string, unknown>;
          let parent = document;
          for (const token of path.slice(0, -1)) parent = parent[token] as Record<string, unknown>;
          parent[path[path.length - 1] as string] = value;
          // The one value of the right type (a number for maxPerVolume) is left out: every other one is invalid.
          fc.pre(!(typeof value === 'number' && path.at(-1) === 'maxPerVolume'));
          const { problems, policies } = parsePolicies(stringify(document), 'fuzz.yaml');
          assert.ok(problems.length > 0, `${path.join('.')}: ${JSON.stringify(value)} is refused`);
          assert.equal(policies.length, 0);
          assert.ok(
            problems.every((problem) => problem.line !== undefined && problem.column !== undefined),
            JSON.stringify(problems),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});
