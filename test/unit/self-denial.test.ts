import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import { claimMatchesTemplate, claimTemplateShape, templateCandidates } from '../../src/core/statefulset-claims.js';
import { lintPolicies } from '../../src/authoring/lint.js';
import { ClusterState } from '../../src/lookup/cluster-state.js';
import { NO_CLUSTER } from '../../src/lookup/lookup.js';
import { parsePolicies } from '../../src/engine/policies.js';
import { at, cluster, judge, policy, pvc, rulesOf, statefulSet, storageClass, template } from '../helpers.js';

// Writes the webhook must never refuse because of itself, and claims it must never admit that can never work.

const STATEFULSET_CONTROLLER = 'system:serviceaccount:kube-system:statefulset-controller';

describe('an in-tree class with zone/zones is never given allowedTopologies', () => {
  const adding = policy({
    name: 'classes',
    match: { kinds: ['StorageClass'] },
    zones: { allowed: ['us-east-1a', 'us-east-1b'], addAllowedTopologies: true },
  });
  const intree = (parameters: Record<string, string>) =>
    storageClass('intree-zone-ok', 'kubernetes.io/aws-ebs', { parameters: { type: 'gp2', ...parameters } });

  it('pass: zone and zones inside the allowed zones are admitted unpatched', () => {
    const spellings: Array<Record<string, string>> = [
      { zone: 'us-east-1a' },
      { zones: 'us-east-1a,us-east-1b' },
      { Zone: 'us-east-1b' },
    ];
    for (const parameters of spellings) {
      const result = judge([adding], intree(parameters));
      assert.deepEqual([result.patch, result.denials], [[], []], JSON.stringify(parameters));
    }
  });
  it('fail: a zone outside is denied at the parameter; a CSI class still gets allowedTopologies', () => {
    const outside = judge([adding], intree({ zones: 'us-east-1a,us-west-2a' }));
    assert.deepEqual(
      [rulesOf(outside.denials), outside.denials[0]?.path, outside.patch],
      [['zones/class-topology'], 'parameters.zones', []],
    );
    const csi = judge([adding], storageClass('gp3', 'ebs.csi.aws.com', { volumeBindingMode: 'WaitForFirstConsumer' }));
    assert.deepEqual(at(csi.patched, 'allowedTopologies'), [
      { matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['us-east-1a', 'us-east-1b'] }] },
    ]);
  });
  it('UPDATE: a re-applied in-tree class is not patched either', () => {
    const old = intree({ zone: 'us-east-1a' });
    const result = judge(
      [adding],
      { ...old, metadata: { name: 'intree-zone-ok', labels: { a: 'b' } } },
      { operation: 'UPDATE', oldObject: old },
    );
    assert.deepEqual([result.patch, result.denials], [[], []]);
  });
});

describe('claims the StatefulSet controller creates for a StatefulSet the cluster runs', () => {
  const platform = policy({ storageClasses: { allowed: ['gp3'] } });
  const legacy = statefulSet([template('data', { storageClassName: 'io1-slow' })], {}, 2, {
    name: 'legacy-db',
    namespace: 'team-a',
  });
  const running = cluster(legacy);
  const claimOf = (overrides: JsonObject = {}) =>
    pvc({ storageClassName: 'io1-slow', ...overrides }, { name: 'data-legacy-db-1', labels: { app: 'legacy-db' } });

  it('pass: the controller creating the template claim of a new ordinal gets warnings marked (existing), not a denial', () => {
    const result = judge([platform], claimOf(), { lookup: running, requester: STATEFULSET_CONTROLLER });
    assert.deepEqual([result.denials, rulesOf(result.warnings)], [[], ['storage-class/allowed']]);
    assert.ok(
      result.verdict.warnings.some((warning) => warning.includes('(existing) class io1-slow')),
      result.verdict.warnings.join('\n'),
    );
    const ownCredentials = judge([platform], claimOf(), {
      lookup: running,
      requester: 'system:kube-controller-manager',
    });
    assert.deepEqual(ownCredentials.denials, [], 'kube-controller-manager without per-controller credentials');
  });
  it('fail: the same claim by a user, a claim that differs from the template, or one of no known StatefulSet is denied', () => {
    assert.deepEqual(rulesOf(judge([platform], claimOf(), { lookup: running, requester: 'alice' }).denials), [
      'storage-class/allowed',
    ]);
    assert.deepEqual(
      rulesOf(
        judge([platform], claimOf({ resources: { requests: { storage: '20Gi' } } }), {
          lookup: running,
          requester: STATEFULSET_CONTROLLER,
        }).denials,
      ),
      ['storage-class/allowed'],
    );
    const other = pvc({ storageClassName: 'io1-slow' }, { name: 'data-other-db-1' });
    assert.deepEqual(
      rulesOf(judge([platform], other, { lookup: running, requester: STATEFULSET_CONTROLLER }).denials),
      ['storage-class/allowed'],
    );
    assert.deepEqual(
      rulesOf(judge([platform], claimOf(), { lookup: cluster(), requester: STATEFULSET_CONTROLLER }).denials),
      ['storage-class/allowed'],
      'StatefulSet not in the cache',
    );
  });
  it('UPDATE: a claim the controller made is ratcheted as any other; a changed template (new StatefulSet) is judged anew', () => {
    const old = claimOf();
    const relabeled = {
      ...old,
      metadata: { ...(old['metadata'] as JsonObject), labels: { app: 'legacy-db', tier: 'db' } },
    };
    assert.deepEqual(
      judge([platform], relabeled, { operation: 'UPDATE', oldObject: old, lookup: running, requester: 'alice' })
        .denials,
      [],
    );
    const recreated = cluster(
      statefulSet([template('data', { storageClassName: 'io2' })], {}, 2, { name: 'legacy-db', namespace: 'team-a' }),
    );
    assert.deepEqual(
      rulesOf(judge([platform], claimOf(), { lookup: recreated, requester: STATEFULSET_CONTROLLER }).denials),
      ['storage-class/allowed'],
    );
  });
  it('a template without a class matches the claim that got a default; names with dashes split every way', () => {
    const shape = claimTemplateShape(template('data', { volumeMode: 'Filesystem' }));
    assert.ok(
      claimMatchesTemplate(
        claimTemplateShape(pvc({ storageClassName: 'gp3', resources: { requests: { storage: '10737418240' } } })),
        shape,
      ),
    );
    assert.equal(claimMatchesTemplate(claimTemplateShape(pvc({ accessModes: ['ReadWriteMany'] })), shape), false);
    assert.deepEqual(templateCandidates('my-data-my-db-12'), [
      { template: 'my', statefulSet: 'data-my-db' },
      { template: 'my-data', statefulSet: 'my-db' },
      { template: 'my-data-my', statefulSet: 'db' },
    ]);
    assert.deepEqual(templateCandidates('data-db'), []);
  });
});

describe('unknown cluster data follows lookupFailure, never skipped', () => {
  const strict = policy({ lookupFailure: 'deny', storageClasses: { allowed: ['gp3'], missingClass: 'deny' } });

  it('fail: a class nobody can look up is denied under lookupFailure deny, with what was not checked', () => {
    const result = judge([strict], pvc({ storageClassName: 'gp3' }), { lookup: NO_CLUSTER });
    assert.deepEqual(rulesOf(result.denials), ['lookup/unavailable']);
    assert.match(
      result.denials[0]?.message ?? '',
      /whether class gp3 exists not checked: no cluster cache or inventory is configured \(lookupFailure: deny\)/,
    );
    const sized = judge(
      [policy({ lookupFailure: 'deny', capacity: { max: '1Ti' } })],
      pvc({ storageClassName: 'gp3' }),
      { lookup: NO_CLUSTER },
    );
    assert.deepEqual(rulesOf(sized.denials), ['lookup/unavailable'], 'the volume type size limits');
    assert.match(sized.denials[0]?.message ?? '', /^size limits of class gp3 not checked/);
  });
  it('pass: the same claim with cluster data, or with missingClass allow (existence not asked), is admitted', () => {
    assert.deepEqual(judge([strict], pvc({ storageClassName: 'gp3' })).findings, []);
    const relaxed = policy({ lookupFailure: 'deny', storageClasses: { allowed: ['gp3'], missingClass: 'allow' } });
    assert.deepEqual(judge([relaxed], pvc({ storageClassName: 'gp3' }), { lookup: NO_CLUSTER }).findings, []);
  });
  it('UPDATE: an unchanged claim while the cache is down is only warned (it had the same finding before)', () => {
    const unsynced = new ClusterState('cluster cache not synced yet');
    const old = pvc({ storageClassName: 'gp3' });
    const result = judge(
      [strict],
      { ...old, metadata: { name: 'data', namespace: 'team-a', labels: { a: 'b' } } },
      { operation: 'UPDATE', oldObject: old, lookup: unsynced },
    );
    assert.deepEqual([result.denials, rulesOf(result.warnings)], [[], ['lookup/unavailable']]);
  });
});

describe('a VolumeAttributesClass of another driver is checked for every policy that governs claims', () => {
  const bundledLike = policy({ storageClasses: { allowed: ['gp3', 'efs'] } });
  const withVacs = cluster(
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'VolumeAttributesClass',
      metadata: { name: 'ebs-fast' },
      driverName: 'ebs.csi.aws.com',
      parameters: { iops: '6000' },
    },
    storageClass('intree-gp2', 'kubernetes.io/aws-ebs', {
      parameters: { type: 'gp2' },
      volumeBindingMode: 'WaitForFirstConsumer',
    }),
  );

  it('pass: an EBS VAC on an EBS class, in-tree names included (provisioned by the CSI driver after migration)', () => {
    assert.deepEqual(
      judge([bundledLike], pvc({ storageClassName: 'gp3', volumeAttributesClassName: 'ebs-fast' }), {
        lookup: withVacs,
      }).findings,
      [],
    );
    const intree = policy({ storageClasses: { allowed: ['intree-gp2'] } });
    assert.deepEqual(
      judge([intree], pvc({ storageClassName: 'intree-gp2', volumeAttributesClassName: 'ebs-fast' }), {
        lookup: withVacs,
      }).findings,
      [],
    );
  });
  it('fail: an EBS VAC on an EFS claim is denied; a VAC that does not exist is warned', () => {
    const efs = judge(
      [bundledLike],
      pvc({ storageClassName: 'efs', accessModes: ['ReadWriteMany'], volumeAttributesClassName: 'ebs-fast' }),
      { lookup: withVacs },
    );
    assert.deepEqual(rulesOf(efs.denials), ['attributes-class/driver']);
    assert.match(
      efs.denials[0]?.message ?? '',
      /is for ebs\.csi\.aws\.com, but class efs .* is provisioned by efs\.csi\.aws\.com: the claim would never be provisioned/,
    );
    const missing = judge([bundledLike], pvc({ storageClassName: 'gp3', volumeAttributesClassName: 'nope' }), {
      lookup: withVacs,
    });
    assert.deepEqual([missing.denials, rulesOf(missing.warnings)], [[], ['attributes-class/missing']]);
  });
  it('UPDATE: switching a bound EFS claim to an EBS VAC is denied; keeping a mismatch it already had is warned', () => {
    const bound = pvc({ storageClassName: 'efs', accessModes: ['ReadWriteMany'], volumeName: 'pv-1' });
    const switched = pvc({
      storageClassName: 'efs',
      accessModes: ['ReadWriteMany'],
      volumeName: 'pv-1',
      volumeAttributesClassName: 'ebs-fast',
    });
    assert.deepEqual(
      rulesOf(judge([bundledLike], switched, { operation: 'UPDATE', oldObject: bound, lookup: withVacs }).denials),
      ['attributes-class/driver'],
    );
    const kept = judge([bundledLike], switched, { operation: 'UPDATE', oldObject: switched, lookup: withVacs });
    assert.deepEqual([kept.denials, rulesOf(kept.warnings)], [[], ['attributes-class/driver']]);
  });
});

describe('messages never name a class the policies forbid', () => {
  const platform = policy({ name: 'platform', storageClasses: { allowed: ['gp3', 'io2', 'efs'] } });
  const team = policy({ name: 'team', priority: 5, storageClasses: { denied: ['io2'] } });

  it('pass: an admissible class is admitted', () => {
    assert.deepEqual(judge([platform, team], pvc({ storageClassName: 'gp3' })).findings, []);
  });
  it('fail: the advice lists only what every policy accepts, or says that none does', () => {
    const denied = judge([platform, team], pvc({ storageClassName: 'io1-slow' }));
    assert.match(denied.denials[0]?.message ?? '', /use one of gp3, efs$/);
    const required = judge(
      [policy({ storageClasses: { allowed: ['gp3', 'io2'], required: true } }), team],
      pvc({ storageClassName: 'io2' }),
    );
    assert.match(required.denials[0]?.message ?? '', /use one of gp3$/);
    const exclusive = policy({ name: 'exclusive', storageClasses: { denied: ['gp3', 'efs'] } });
    const none = judge([platform, team, exclusive], pvc({ storageClassName: 'io1-slow' }));
    assert.ok(
      none.denials.every(
        (finding) =>
          /no class is accepted by every policy/.test(finding.message) && !/use one of/.test(finding.message),
      ),
      none.denials.map((finding) => finding.message).join('\n'),
    );
  });
  it('UPDATE: the same advice on an existing claim is a warning', () => {
    const old = pvc({ storageClassName: 'io1-slow' });
    const result = judge(
      [platform, team],
      { ...old, metadata: { name: 'data', namespace: 'team-a', labels: { a: 'b' } } },
      { operation: 'UPDATE', oldObject: old },
    );
    assert.match(result.warnings[0]?.message ?? '', /use one of gp3, efs$/);
  });
});

describe('storageClasses.required: a template must name a class', () => {
  const required = policy({ storageClasses: { required: true } });
  const withDefault = cluster(
    storageClass('standard', 'ebs.csi.aws.com', {
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      volumeBindingMode: 'WaitForFirstConsumer',
    }),
  );

  it('pass: a template naming a class, and a claim that got the cluster default from the API server', () => {
    assert.deepEqual(
      judge([required], statefulSet([template('data', { storageClassName: 'gp3' })]), { lookup: withDefault }).findings,
      [],
    );
    assert.deepEqual(judge([required], pvc({ storageClassName: 'standard' }), { lookup: withDefault }).findings, []);
  });
  it('fail: a template with no class is denied even when the cluster has a default', () => {
    const result = judge([required], statefulSet([template('data')]), { lookup: withDefault });
    assert.deepEqual(rulesOf(result.denials), ['storage-class/required']);
    assert.equal(result.denials[0]?.path, 'spec.volumeClaimTemplates[0].spec.storageClassName');
    assert.match(
      result.denials[0]?.message ?? '',
      /required in the template, not left to standard \(the cluster default it gets when created\)/,
    );
  });
  it('lint warns when a cluster default makes required unenforceable on claims (the API server fills it in first)', () => {
    const problems = lintPolicies([required], { inventory: withDefault }).map(
      (problem) => `${problem.severity} ${problem.check}: ${problem.message}`,
    );
    assert.deepEqual(problems, [
      'warning required-unenforceable: the cluster default class standard is set on claims by the API server before any webhook sees them, so required is enforced on StatefulSet templates only [policy test-policy]',
    ]);
    assert.deepEqual(lintPolicies([required], { inventory: cluster() }), [], 'no cluster default');
  });
  it('UPDATE: scaling a StatefulSet whose template never named a class is warned, not denied', () => {
    const old = statefulSet([template('data')], {}, 1);
    const result = judge([required], statefulSet([template('data')], {}, 3), {
      operation: 'UPDATE',
      oldObject: old,
      lookup: withDefault,
    });
    assert.deepEqual([result.denials, rulesOf(result.warnings)], [[], ['storage-class/required']]);
  });
});

describe('the bin on an older Node.js', () => {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  // npm run test:older-node provides one from the npm registry (the node package of an older major), so the test runs
  // on every machine; npm test uses the machine's own when it is older than 24.
  const provided = process.env['STORAGE_POLICY_OLDER_NODE'];
  const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find(
    (candidate) => existsSync(candidate) && spawnSync(candidate, ['--version']).stdout.toString().startsWith('v2'),
  );
  const olderNode = [provided, systemNode].find(
    (candidate) =>
      candidate !== undefined &&
      candidate !== '' &&
      Number(spawnSync(candidate, ['-p', 'process.versions.node.split(".")[0]']).stdout.toString()) < 24,
  );
  if (provided !== undefined && olderNode !== provided)
    throw new Error(`STORAGE_POLICY_OLDER_NODE=${provided} is not a Node.js older than 24`);

  it(
    'says which Node.js it needs and how to run it, exit 2',
    { skip: olderNode === undefined ? 'no Node.js older than 24 here: npm run test:older-node provides one' : false },
    () => {
      const result = spawnSync(olderNode ?? 'node', [main, 'review', '-f', 'examples/apps'], { encoding: 'utf8' });
      assert.equal(result.status, 2);
      assert.match(result.stderr, /storage-policy needs Node\.js 24 or newer; this is Node\.js 2\d\./);
      assert.match(result.stderr, /npx storage-policy/);
      assert.doesNotMatch(result.stderr, /SyntaxError/);
    },
  );
  it('on Node.js 24 or newer it runs the command', () => {
    const result = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
    assert.equal(result.status, 0);
    assert.match(result.stdout, /storage-policy: Kubernetes storage admission policies/);
  });
});

// Counterexamples the property test (guarantee.test.ts) found, shrunk, kept as named cases.
describe('regressions from the self-denial property', () => {
  const vac = (name: string, driverName: string, parameters: Record<string, string> = {}) => ({
    apiVersion: 'storage.k8s.io/v1',
    kind: 'VolumeAttributesClass',
    metadata: { name },
    driverName,
    parameters,
  });

  it('a fallback to a class the cluster does not have is not written: the claim is denied as sent, not left Pending', () => {
    const result = judge(
      [policy({ storageClasses: { allowed: ['io1'], fallback: 'io1' } })],
      pvc({ storageClassName: 'gp3' }),
    );
    assert.deepEqual([result.patch, rulesOf(result.denials)], [[], ['storage-class/allowed']]);
  });
  it('a fallback whose class would itself be denied (throughput over the limit) is dropped; one that admits the claim is kept', () => {
    const throughput = cluster(
      storageClass('fast', 'ebs.csi.aws.com', { parameters: { type: 'gp3', throughput: '1000' } }),
    );
    const fallback = policy({ storageClasses: { allowed: ['fast', 'io2'], fallback: 'fast' }, iops: {} });
    const dropped = judge([fallback], pvc({ storageClassName: 'gp3', resources: { requests: { storage: '1Gi' } } }), {
      lookup: throughput,
    });
    assert.deepEqual(
      [at(dropped.patched, 'spec', 'storageClassName'), rulesOf(dropped.denials)],
      ['gp3', ['storage-class/allowed']],
    );
    const kept = judge(
      [policy({ storageClasses: { allowed: ['io2'], fallback: 'io2' } })],
      pvc({ storageClassName: 'gp3' }),
    );
    assert.deepEqual([at(kept.patched, 'spec', 'storageClassName'), kept.denials], ['io2', []]);
  });
  it('the default VAC is the first one every policy allows, and a claim is judged and quoted with it in one pass', () => {
    const state = cluster(vac('ebs-fast', 'ebs.csi.aws.com', { iops: '6000' }), vac('io2-max', 'ebs.csi.aws.com'));
    const narrow = policy({ name: 'narrow', volumeAttributesClasses: { allowed: ['io2-max'] } });
    const defaulting = policy({ name: 'defaulting', volumeAttributesClasses: { default: 'ebs-fast' } });
    const passedOver = judge([narrow, defaulting], pvc({ storageClassName: 'gp3' }), { lookup: state });
    assert.deepEqual([passedOver.patch, passedOver.findings], [[], []]);
    const quoted = judge(
      [policy({ volumeAttributesClasses: { default: 'ebs-fast' }, iops: { annotateQuote: true } })],
      pvc({ storageClassName: 'gp3' }),
      { lookup: state },
    );
    assert.equal(at(quoted.patched, 'spec', 'volumeAttributesClassName'), 'ebs-fast');
    // The VAC's 6000 IOPS, capped at gp3's 500 per GiB for 10 GiB; without the VAC the quote would be gp3's 3000.
    assert.equal(
      at(quoted.patched, 'metadata', 'annotations', 'storage-policy-webhook.io/provisioned-iops'),
      '5000',
      'quoted with the VAC it gets',
    );
  });
  it('a VAC default outside the policy own allowed list is refused at load', () => {
    const text = `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: vac}
spec:
  match: {}
  volumeAttributesClasses: {allowed: [io2-max], default: ebs-fast}
`;
    const problems = parsePolicies(text, 'vac.yaml').problems.map((problem) => `${problem.field}: ${problem.message}`);
    assert.deepEqual(problems, [
      'spec.volumeAttributesClasses.default: default "ebs-fast" is not in volumeAttributesClasses.allowed (io2-max): every defaulted claim would be denied',
    ]);
  });
});
