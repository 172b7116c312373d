import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { JsonObject } from '../../src/core/json.js';
import { readStorageClass } from '../../src/core/storage.js';
import { compileFloor, type Floor } from '../../src/floor/admission-policies.js';
import { globRegex, str } from '../../src/floor/cel.js';
import type { PolicyException } from '../../src/policy/model.js';
import { policy, storageClass } from '../helpers.js';

// The floor compiler: which checks become admission policies, with which actions, names and selections, and what it
// leaves out. That the API server refuses with them, and never what the webhook admits, is the e2e's (a differential
// run through kube-apiserver on both minors).

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function runCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const NOW = Date.parse('2026-12-07T00:00:00Z');
const options = {
  kubernetesMinor: 37,
  static: false,
  classes: undefined,
  excludedNamespaces: ['kube-system'],
  now: NOW,
};
const classes = [
  readStorageClass(storageClass('gp3', 'ebs.csi.aws.com', { parameters: { type: 'gp3' } })),
  readStorageClass(storageClass('io2', 'ebs.csi.aws.com', { parameters: { type: 'io2' } })),
  readStorageClass(storageClass('efs', 'efs.csi.aws.com')),
];

const spec = (object: JsonObject | undefined): JsonObject => (object?.['spec'] ?? {}) as JsonObject;
const named = (floor: Floor, kind: string): JsonObject[] =>
  [...floor.validating, ...floor.mutating].filter((object) => object['kind'] === kind);
const validations = (floor: Floor): Array<{ expression: string; messageExpression: string }> =>
  named(floor, 'ValidatingAdmissionPolicy').flatMap(
    (object) => spec(object)['validations'] as Array<{ expression: string; messageExpression: string }>,
  );
const rulesIn = (floor: Floor): string[] =>
  validations(floor)
    .map((validation) => /rule ([a-z-]+\/[a-z-]+)/.exec(validation.messageExpression)?.[1] ?? '')
    .sort();

describe('the floor: the policies’ lookup-free part as admission policies', () => {
  const full = policy({
    name: 'platform',
    storageClasses: {
      allowed: ['gp3', 'efs'],
      denied: ['io1'],
      defaults: [{ whenAccessModes: ['ReadWriteMany'], class: 'efs' }, { class: 'gp3' }],
    },
    accessModes: { denied: ['ReadOnlyMany'] },
    capacity: { min: '1Gi', max: '4Ti' },
    claimMetadata: { required: [{ label: 'team' }, { annotation: 'cost-centre', pattern: '[0-9]+' }] },
    iops: { maxPerVolume: 16000 },
    zones: { allowed: ['a'] },
    match: { kinds: ['PersistentVolumeClaim', 'StatefulSet', 'Deployment'], namespaces: ['team-*', 'payments'] },
  });

  it('compiles class lists, capacity, chosen modes, required metadata and the provider facts of known classes, each naming policy and rule', () => {
    const floor = compileFloor([full], [], { ...options, classes });
    assert.deepEqual(rulesIn(floor), [
      'access-modes/not-allowed',
      'access-modes/unsupported',
      'capacity/policy-limits',
      'capacity/policy-limits',
      'claim-metadata/required',
      'claim-metadata/required',
      'storage-class/allowed',
      'storage-class/denied',
    ]);
    for (const validation of validations(floor)) {
      assert.match(
        validation.messageExpression,
        /\[policy platform, rule [a-z-]+\/[a-z-]+; storage-policy admission floor\]'$/,
      );
      // An UPDATE passes what its oldObject already violated: the webhook only warns on it.
      assert.match(validation.expression, /\|\| \(oldObject != null && !/);
    }
    const [vap, binding] = floor.validating;
    assert.equal(vap?.['kind'], 'ValidatingAdmissionPolicy');
    assert.equal(spec(vap)['failurePolicy'], 'Ignore', 'an expression that cannot be evaluated admits');
    assert.deepEqual(spec(binding)['validationActions'], ['Deny']);
    const resources = (spec(vap)['matchConstraints'] as JsonObject)['resourceRules'] as Array<{ resources: string[] }>;
    assert.deepEqual(
      resources.map((rule) => rule.resources[0]),
      ['persistentvolumeclaims', 'statefulsets', 'deployments'],
    );
  });

  it('selects as the webhook does: the policy’s namespaces and globs, never excluded or opted-out namespaces, never what controllers make', () => {
    const floor = compileFloor([full], [], options);
    const conditions = spec(floor.validating[0])['matchConditions'] as Array<{ name: string; expression: string }>;
    const namespaces = conditions.find((condition) => condition.name === 'namespaces')?.expression;
    assert.equal(
      namespaces,
      `request.namespace.matches(${str(globRegex('team-*'))}) || request.namespace == 'payments'`,
    );
    assert.match(
      conditions.find((condition) => condition.name === 'not-made-by-controllers')?.expression ?? '',
      /ephemeral-volume-controller/,
    );
    const selector = (spec(floor.validating[1])['matchResources'] as JsonObject)['namespaceSelector'];
    assert.deepEqual(selector, {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] },
        { key: 'storage-policy-webhook.io/ignore', operator: 'NotIn', values: ['true'] },
      ],
    });
  });

  it('lists what it leaves out, per policy, with the reason', () => {
    const floor = compileFloor([full], [], options);
    const left = floor.uncompiled.map((entry) => entry.what);
    for (const what of ['iops', 'zones', 'capacity/type-limits', 'claimMetadata annotation cost-centre pattern'])
      assert.ok(left.includes(what), what);
    assert.ok(
      left.some((what) => what.startsWith('access modes a class')),
      'no inventory: the provider facts are left out',
    );
    assert.ok(floor.uncompiled.every((entry) => entry.policy === 'platform' && entry.reason.length > 10));
  });

  it('the namespace default class as a MutatingAdmissionPolicy from 1.36, only for claims created without one; not before', () => {
    const floor = compileFloor([full], [], options);
    const [map, binding] = floor.mutating;
    assert.equal(map?.['kind'], 'MutatingAdmissionPolicy');
    assert.equal(binding?.['kind'], 'MutatingAdmissionPolicyBinding');
    const mutation = (spec(map)['mutations'] as Array<{ applyConfiguration: { expression: string } }>)[0];
    assert.equal(
      mutation?.applyConfiguration.expression,
      "Object{spec: Object.spec{storageClassName: (has(object.spec.accessModes) ? object.spec.accessModes : []).exists(m, m in ['ReadWriteMany']) ? 'efs' : true ? 'gp3' : ''}}",
    );
    const conditions = (spec(map)['matchConditions'] as Array<{ name: string }>).map((condition) => condition.name);
    assert.ok(conditions.includes('no-class') && conditions.includes('a-default-applies'));
    const old = compileFloor([full], [], { ...options, kubernetesMinor: 35 });
    assert.deepEqual(old.mutating, []);
    assert.ok(old.uncompiled.some((entry) => entry.what === 'storageClasses.defaults' && /1\.36/.test(entry.reason)));
  });

  it('a class list with a fallback is left out: the webhook rewrites what the floor would refuse', () => {
    const floor = compileFloor([policy({ storageClasses: { allowed: ['gp3'], fallback: 'gp3' } })], [], options);
    assert.deepEqual(rulesIn(floor), []);
    assert.match(
      floor.uncompiled.map((entry) => entry.reason).join('\n'),
      /rewrites a forbidden class to the fallback gp3/,
    );
  });

  it('actions follow the policy, its rule overrides and enforceFrom: one policy and binding per action', () => {
    const mixed = policy({
      name: 'mixed',
      storageClasses: { allowed: ['gp3'] },
      capacity: { max: '1Ti' },
      rules: { 'capacity/policy-limits': 'audit' },
    });
    const floor = compileFloor([mixed], [], options);
    const bindings = named(floor, 'ValidatingAdmissionPolicyBinding').map((binding) => [
      (binding['metadata'] as JsonObject)['name'],
      spec(binding)['validationActions'],
    ]);
    assert.deepEqual(bindings, [
      ['storage-policy.mixed.claims.deny', ['Deny']],
      ['storage-policy.mixed.claims.audit', ['Audit']],
    ]);
    const later = compileFloor(
      [policy({ storageClasses: { allowed: ['gp3'] }, enforceFrom: '2027-01-01T00:00:00Z' })],
      [],
      options,
    );
    assert.deepEqual(spec(named(later, 'ValidatingAdmissionPolicyBinding')[0])['validationActions'], ['Warn']);
  });

  it('exempts what an active exception covers, and nothing for an expired one', () => {
    const exception = (expiresAt: string): PolicyException => ({
      name: 'legacy',
      file: 'e.yaml',
      owner: 'team',
      reason: 'ticket',
      expiresAt,
      permanent: false,
      policies: [{ name: 'test-policy' }],
      match: { namespaces: ['payments'], names: ['data-legacy-*'] },
    });
    const active = compileFloor(
      [policy({ storageClasses: { allowed: ['gp3'] } })],
      [exception('2027-01-01T00:00:00Z')],
      options,
    );
    const condition = (
      spec(active.validating[0])['matchConditions'] as Array<{ name: string; expression: string }>
    ).find((entry) => entry.name === 'not-exempted');
    assert.match(condition?.expression ?? '', /request\.namespace == 'payments'.*matches\('\^data-legacy-\.\*\$'\)/);
    const expired = compileFloor(
      [policy({ storageClasses: { allowed: ['gp3'] } })],
      [exception('2026-01-01T00:00:00Z')],
      options,
    );
    assert.ok(
      !(spec(expired.validating[0])['matchConditions'] as Array<{ name: string }>).some(
        (entry) => entry.name === 'not-exempted',
      ),
    );
  });

  it('StorageClass requirements as a policy of their own, with the API server’s defaults for absent fields', () => {
    const floor = compileFloor(
      [
        policy({
          classRequirements: {
            reclaimPolicies: ['Retain'],
            volumeBindingMode: 'WaitForFirstConsumer',
            allowVolumeExpansion: 'required',
            parameters: [{ name: 'encrypted', values: ['true'] }],
          },
          match: { kinds: ['StorageClass'] },
        }),
      ],
      [],
      options,
    );
    assert.deepEqual(rulesIn(floor), [
      'class-requirements/binding-mode',
      'class-requirements/reclaim-policy',
      'class-requirements/volume-expansion',
    ]);
    assert.match(
      validations(floor)[0]?.expression ?? '',
      /\(has\(object\.reclaimPolicy\) \? object\.reclaimPolicy : 'Delete'\) in \['Retain'\]/,
    );
    assert.equal(spec(floor.validating[1])['matchResources'], undefined, 'cluster-scoped: no namespace selection');
    assert.ok(floor.uncompiled.some((entry) => entry.what === 'classRequirements.parameters'));
  });

  it('static names end in .static.k8s.io, bindings name their static policy', () => {
    const floor = compileFloor([full], [], { ...options, static: true });
    for (const object of [...floor.validating, ...floor.mutating])
      assert.match(JSON.stringify((object['metadata'] as JsonObject)['name']), /\.static\.k8s\.io"$/);
    assert.equal(spec(floor.validating[1])['policyName'], (floor.validating[0]?.['metadata'] as JsonObject)['name']);
  });

  it('CEL literals are quoted, globs anchored', () => {
    assert.equal(str("it's a \\ path"), "'it\\'s a \\\\ path'");
    assert.equal(globRegex('team-?.a*'), '^team-.\\.a.*$');
  });
});

describe('storage-policy generate admission-policies', () => {
  it('writes validating/ and mutating/ for a staticManifestsDir with --static, one file otherwise, and says what it left out', async () => {
    const out = await mkdtemp(join(tmpdir(), 'floor-'));
    try {
      const result = runCli([
        'generate',
        'admission-policies',
        '--static',
        '--out',
        out,
        '--inventory',
        'examples/cluster',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /wrote .*validating\/storage-policy\.yaml/);
      assert.match(result.stdout, /Not in the floor .*\n {2}platform-storage: iops:/);
      const validating = parseAllDocuments(await readFile(join(out, 'validating', 'storage-policy.yaml'), 'utf8')).map(
        (document) => document.toJS() as JsonObject,
      );
      assert.deepEqual(
        [...new Set(validating.map((object) => object['kind']))],
        ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
      );
      const mutating = parseAllDocuments(await readFile(join(out, 'mutating', 'storage-policy.yaml'), 'utf8')).map(
        (document) => document.toJS() as JsonObject,
      );
      assert.deepEqual(
        [...new Set(mutating.map((object) => object['kind']))],
        ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding'],
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('refuses an unknown target, a malformed version and --static before 1.36, with the reason', () => {
    assert.match(runCli(['generate', 'floors']).stderr, /generate needs what to generate: admission-policies/);
    assert.match(
      runCli(['generate', 'admission-policies', '--kubernetes-version', '1.x']).stderr,
      /must look like v1\.37/,
    );
    assert.match(
      runCli(['generate', 'admission-policies', '--static', '--kubernetes-version', 'v1.35']).stderr,
      /--static needs Kubernetes v1\.36/,
    );
  });
});
