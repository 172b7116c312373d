import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { explain } from '../../src/authoring/explain.js';
import { lintPolicies } from '../../src/authoring/lint.js';
import { containsAt, runCase } from '../../src/authoring/suite.js';
import { cluster, policy, pvc, storageClass } from '../helpers.js';
import { NO_CLUSTER, type ClusterLookup } from '../../src/lookup/lookup.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

describe('lint: semantic checks', () => {
  const checks = (problems: ReturnType<typeof lintPolicies>) =>
    problems.map((problem) => `${problem.severity}:${problem.check}`).sort();
  it('passes a coherent set', () => {
    assert.deepEqual(
      lintPolicies([policy({ storageClasses: { defaults: [{ class: 'gp3' }], allowed: ['gp3'] } })], {
        inventory: cluster(),
      }),
      [],
    );
  });
  it('flags classes the inventory does not have', () => {
    const problems = lintPolicies(
      [policy({ storageClasses: { defaults: [{ class: 'gp4' }], allowed: ['gp3', 'gp5'] } })],
      { inventory: cluster() },
    );
    assert.deepEqual(checks(problems), ['error:unknown-class', 'error:unknown-class']);
    assert.match(problems[0]?.message ?? '', /gp5 is not in the inventory/);
  });
  it('flags a default class that provisions outside the policy zones, or cannot serve the mode it is for', () => {
    const inventory = cluster(
      storageClass('wide', 'ebs.csi.aws.com', {
        allowedTopologies: [
          { matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['zone-a', 'zone-z'] }] },
        ],
      }),
    );
    assert.deepEqual(
      checks(
        lintPolicies([policy({ zones: { allowed: ['zone-a'] }, storageClasses: { defaults: [{ class: 'wide' }] } })], {
          inventory,
        }),
      ),
      ['error:zones'],
    );
    assert.deepEqual(
      checks(
        lintPolicies(
          [
            policy({
              accessModes: {},
              storageClasses: { defaults: [{ class: 'gp3', whenAccessModes: ['ReadWriteMany'] }] },
            }),
          ],
          { inventory },
        ),
      ),
      ['error:access-modes'],
    );
  });
  it('flags settings that can never apply', () => {
    const classOnly = policy({
      match: { kinds: ['StorageClass'] },
      accessModes: {},
      storageClasses: { allowed: ['gp3'] },
    });
    const claimOnly = policy({
      name: 'b',
      storageClasses: { singleClusterDefault: true },
      zones: { allowed: ['a'], addAllowedTopologies: true },
    });
    const excludedAll = policy({
      name: 'c',
      match: { kinds: ['PersistentVolumeClaim'], namespaces: ['a', 'b'], excludeNamespaces: ['*'] },
    });
    const orphanRule = policy({ name: 'd', rules: { 'iops/adjusted': 'deny' } });
    assert.deepEqual(checks(lintPolicies([classOnly, claimOnly, excludedAll, orphanRule])), [
      'error:never-applies',
      'error:never-applies',
      'error:never-applies',
      'error:never-applies',
      'error:never-applies',
      'warning:never-fires',
    ]);
  });
  it('asks for an owner on warn and audit rules', () => {
    assert.deepEqual(checks(lintPolicies([policy({ action: 'warn' })])), ['warning:owner']);
    assert.deepEqual(lintPolicies([policy({ action: 'warn', owner: 'team@example.com' })]), []);
  });
  it('flags conflicting defaults, and accepts disjoint matches', () => {
    const withDefault = (name: string, cls: string, match = {}) =>
      policy({
        name,
        match: { kinds: ['PersistentVolumeClaim'], ...match },
        storageClasses: { defaults: [{ class: cls }] },
      });
    assert.deepEqual(
      checks(
        lintPolicies([
          withDefault('a', 'gp3', { namespaces: ['team-*'] }),
          withDefault('b', 'io2', { namespaces: ['team-b*'] }),
        ]),
      ),
      ['error:conflicting-defaults'],
    );
    assert.deepEqual(
      lintPolicies([
        withDefault('a', 'gp3', { excludeNamespaces: ['team-b'] }),
        withDefault('b', 'io2', { namespaces: ['team-b'] }),
      ]),
      [],
    );
  });
});

describe('test suites', () => {
  const engine = new Engine({
    policies: [policy({ storageClasses: { defaults: [{ class: 'gp3' }], allowed: ['gp3'] } })],
    lookup: cluster(),
  });
  it('passes a case whose expectations hold', () => {
    const result = runCase(engine, 's', {
      name: 'ok',
      resource: pvc({}),
      expect: { decision: 'allowed', rules: ['storage-class/default'], patched: { spec: { storageClassName: 'gp3' } } },
    });
    assert.deepEqual(result, { suite: 's', name: 'ok', passed: true, differences: [] });
  });
  it('fails a case with a diff of every expectation that does not hold', () => {
    const result = runCase(engine, 's', {
      name: 'bad',
      resource: pvc({ storageClassName: 'io2' }),
      expect: { decision: 'allowed', warnings: ['nothing like this'], patched: { spec: { storageClassName: 'efs' } } },
    });
    assert.equal(result.passed, false);
    assert.match(
      result.differences[0] ?? '',
      /^decision: expected allowed, got denied: 1 storage policy violation: \(1\) spec.storageClassName: class io2 is not allowed/,
    );
    assert.match(result.differences[1] ?? '', /^warnings: missing "nothing like this"/);
    assert.equal(result.differences[2], 'patched object at spec.storageClassName: expected "efs", got "io2"');
  });
  it('compares partial objects by key and lists by position', () => {
    assert.deepEqual(containsAt({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 2, d: 3 }] }, e: 4 }), []);
    assert.deepEqual(containsAt({ a: [1] }, { a: [1, 2] }), ['at a: expected 1 items, got 2: [1,2]']);
  });
});

describe('explain', () => {
  it('says which policies govern a namespace and why', () => {
    const platform = policy({
      name: 'platform',
      match: { kinds: ['PersistentVolumeClaim'], excludeNamespaces: ['kube-*'] },
      storageClasses: { defaults: [{ class: 'gp3' }] },
    });
    const team = policy({
      name: 'team',
      priority: 5,
      match: { kinds: ['PersistentVolumeClaim'], namespaces: ['team-*'] },
      storageClasses: { defaults: [{ class: 'io2' }] },
    });
    const [first, second] = explain([platform, team], 'team-a', 'PersistentVolumeClaim', cluster());
    assert.equal(first?.policy.name, 'team');
    assert.ok(first?.reasons.includes('match.namespaces pattern team-* matches team-a'));
    assert.match(first?.effects[0] ?? '', /default class: otherwise -> io2 \(this policy supplies it\)/);
    assert.match(second?.effects[0] ?? '', /overridden by team \(precedence\)/);
    const system = explain([platform], 'kube-system', 'PersistentVolumeClaim', cluster());
    assert.equal(system[0]?.governs, false);
    assert.ok(
      system[0]?.reasons.includes('excludeNamespaces kube-* excludes kube-system'),
      system[0]?.reasons.join('; '),
    );
  });
});

describe('explain: a namespace budget and its use', () => {
  const budgeted = policy({ name: 'budget', cost: { maxPerNamespace: 1000, idleAfter: '720h' } });
  const effects = (lookup: ClusterLookup) =>
    explain([budgeted], 'team-a', 'PersistentVolumeClaim', lookup)[0]?.effects.join('\n') ?? '';

  it('with cluster data: what the claims of the namespace use and what is left', () => {
    // io2 at 100 IOPS/GiB: 100 GiB x 0.125 + 10000 IOPS x 0.065 = 662.50 a month.
    const state = cluster(
      pvc({ storageClassName: 'io2', resources: { requests: { storage: '100Gi' } } }, { name: 'db' }),
    );
    assert.match(effects(state), /max 1000 per namespace, claims unused for 720h reported idle/);
    assert.match(
      effects(state),
      /namespace team-a uses 662\.50 USD of its 1000\.00 USD budget a month \(66%\), 337\.50 USD left/,
    );
  });

  it('without cluster data: the use is unknown, and says why', () => {
    assert.match(effects(NO_CLUSTER), /namespace team-a's use of the budget: unknown \(/);
  });
});

describe('authoring CLI', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'authoring-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('test: exit 0 for the bundled suites, 1 with the diff for a failing case', async () => {
    const ok = run('test');
    assert.equal(ok.status, 0, ok.stdout);
    assert.match(ok.stdout, /\d+ passed, 0 failed/);
    await mkdir(join(dir, 'tests'));
    await writeFile(
      join(dir, 'p.yaml'),
      'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: p}\nspec:\n  match: {}\n  storageClasses: {defaults: [{class: gp3}]}\n',
    );
    await writeFile(
      join(dir, 'tests', 'p.test.yaml'),
      'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicyTest\nmetadata: {name: p}\nspec:\n  cases:\n    - name: wrong expectation\n      resource: {apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: x, namespace: a}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}\n      expect: {decision: allowed, patched: {spec: {storageClassName: io2}}}\n',
    );
    const failed = run('test', dir);
    assert.equal(failed.status, 1);
    assert.match(
      failed.stdout,
      /FAIL p \/ wrong expectation\n {5}patched object at spec.storageClassName: expected "io2", got "gp3"\n0 passed, 1 failed/,
    );
  });
  it('test: a malformed suite is an input error with its position', async () => {
    await writeFile(
      join(dir, 'tests', 'p.test.yaml'),
      'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicyTest\nmetadata: {name: p}\nspec:\n  cases:\n    - name: no expect\n      resource: {kind: x}\n',
    );
    const result = run('test', dir);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /p\.test\.yaml:6:7: \/spec\/cases\/0 must have required property 'expect'/);
  });
  it('lint --inventory --strict: exit 0 for the bundled policies', () => {
    const result = run('lint', 'policies', '--inventory', 'examples/cluster', '--strict');
    assert.equal(result.status, 0, result.stderr);
  });
  it('explain: prints the governing policies', () => {
    const result = run('explain', '-n', 'payments');
    assert.equal(result.status, 0);
    assert.match(result.stdout, /GOVERNS platform-storage/);
    assert.equal(run('explain').status, 2);
  });
});
