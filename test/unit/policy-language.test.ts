import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explain } from '../../src/authoring/explain.js';
import { lintPolicies } from '../../src/authoring/lint.js';
import type { JsonValue } from '../../src/core/json.js';
import { parsePolicies } from '../../src/engine/policies.js';
import type { Policy } from '../../src/policy/model.js';
import { at, cluster, judge, policy, pvc, rulesOf, statefulSet, storageClass, template } from '../helpers.js';

// The settings peers' storage policies need (Gatekeeper, Kyverno, Kubewarden): a passing, a failing and an
// UPDATE case for each rule. The peers' own fixtures run in test/peers.

const classPolicy = (classRequirements: NonNullable<Policy['classRequirements']>) =>
  policy({ match: { kinds: ['StorageClass'] }, classRequirements });
/** A gp3 class; `extra` fields set to null are left out, as a manifest that does not name them. */
const sc = (extra: Record<string, JsonValue> = {}) =>
  storageClass(
    'fast',
    'ebs.csi.aws.com',
    Object.fromEntries(
      Object.entries({
        parameters: { type: 'gp3', encrypted: 'true' },
        volumeBindingMode: 'WaitForFirstConsumer',
        reclaimPolicy: 'Delete',
        ...extra,
      }).filter(([, value]) => value !== null),
    ),
  );
const relabeled = <T extends Record<string, unknown>>(object: T): T => ({
  ...object,
  metadata: { ...(object['metadata'] as object), labels: { touched: 'yes' } },
});

describe('storage-class: required, empty class, denied, missing, fallback', () => {
  const required = policy({ storageClasses: { required: true } });
  it('required: a claim with a class passes; one that ends with none is denied; an UPDATE of such a claim is warned', () => {
    assert.deepEqual(judge([required], pvc({ storageClassName: 'gp3' })).denials, []);
    assert.deepEqual(rulesOf(judge([required], pvc({})).denials), ['storage-class/required']);
    assert.deepEqual(rulesOf(judge([required], statefulSet([template('data')])).denials), ['storage-class/required']);
    const result = judge([required], relabeled(pvc({})), { operation: 'UPDATE', oldObject: pvc({}) });
    assert.deepEqual([result.denials, rulesOf(result.warnings)], [[], ['storage-class/required']]);
  });
  it('required with a default: the default gives the class, nothing is denied', () => {
    assert.deepEqual(
      judge(
        [
          policy({
            storageClasses: { required: true, defaults: [{ class: 'gp3', whenAccessModes: ['ReadWriteOnce'] }] },
          }),
        ],
        pvc({}),
      ).denials,
      [],
    );
  });
  it('empty class: allowed by default, even with an allow list; denied with emptyClass: deny; UPDATE warned', () => {
    assert.deepEqual(
      judge([policy({ storageClasses: { allowed: ['gp3'] } })], pvc({ storageClassName: '' })).findings,
      [],
    );
    const strict = policy({ storageClasses: { emptyClass: 'deny' } });
    assert.deepEqual(rulesOf(judge([strict], pvc({ storageClassName: '' })).denials), ['storage-class/empty-class']);
    const result = judge([strict], relabeled(pvc({ storageClassName: '' })), {
      operation: 'UPDATE',
      oldObject: pvc({ storageClassName: '' }),
    });
    assert.deepEqual(rulesOf(result.warnings), ['storage-class/empty-class']);
  });
  it('denied: other classes pass, a denied one is refused with the alternatives; UPDATE warned', () => {
    const denied = policy({ storageClasses: { denied: ['io1-slow'], allowed: ['gp3', 'io1-slow'] } });
    assert.deepEqual(judge([denied], pvc({ storageClassName: 'gp3' })).denials, []);
    const result = judge(
      [denied],
      pvc({ storageClassName: 'io1-slow', resources: { requests: { storage: '100Gi' } } }),
    );
    assert.deepEqual(rulesOf(result.denials), ['storage-class/denied']);
    assert.match(result.denials[0]?.message ?? '', /class io1-slow is denied here; use one of gp3/);
    const old = pvc({ storageClassName: 'io1-slow' });
    assert.deepEqual(rulesOf(judge([denied], relabeled(old), { operation: 'UPDATE', oldObject: old }).warnings), [
      'storage-class/denied',
    ]);
  });
  it('missing: a class the cluster lacks is its own rule (warn by default, deny on request), not an unknown provisioner', () => {
    assert.deepEqual(
      judge([policy({ storageClasses: {}, accessModes: {} })], pvc({ storageClassName: 'gp3' })).findings,
      [],
    );
    assert.deepEqual(
      rulesOf(judge([policy({ storageClasses: {}, accessModes: {} })], pvc({ storageClassName: 'nope' })).warnings),
      ['storage-class/missing'],
    );
    const strict = policy({ storageClasses: { missingClass: 'deny' } });
    assert.deepEqual(rulesOf(judge([strict], pvc({ storageClassName: 'nope' })).denials), ['storage-class/missing']);
    const old = pvc({ storageClassName: 'nope' });
    assert.deepEqual(judge([strict], relabeled(old), { operation: 'UPDATE', oldObject: old }).denials, []);
  });
  it('fallback: a forbidden class is rewritten on PVC CREATE with a warning; templates and UPDATEs are not', () => {
    const fallback = policy({ storageClasses: { allowed: ['gp3'], fallback: 'gp3' } });
    const created = judge([fallback], pvc({ storageClassName: 'io2' }));
    assert.equal(at(created.patched, 'spec', 'storageClassName'), 'gp3');
    assert.deepEqual(created.denials, []);
    assert.ok(
      created.verdict.warnings.some((warning) => warning.includes('io2 is not allowed here: set to gp3 (fallback)')),
    );
    assert.deepEqual(
      rulesOf(judge([fallback], statefulSet([template('data', { storageClassName: 'io2' })])).denials),
      ['storage-class/allowed'],
      'a template is never rewritten',
    );
    const old = pvc({ storageClassName: 'io2' });
    const updated = judge([fallback], relabeled(old), { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(updated.patch, []);
    assert.deepEqual(rulesOf(updated.warnings), ['storage-class/allowed']);
  });
  it('fallback composes: one another policy forbids is passed over', () => {
    const team = policy({ name: 'team', priority: 5, storageClasses: { fallback: 'io2' } });
    const platform = policy({ name: 'platform', storageClasses: { allowed: ['gp3'], fallback: 'gp3' } });
    assert.equal(
      at(judge([team, platform], pvc({ storageClassName: 'efs' })).patched, 'spec', 'storageClassName'),
      'gp3',
    );
  });
});

describe('access modes: allowed and denied per policy', () => {
  const rwop = policy({ accessModes: { allowed: ['ReadWriteOncePod'] } });
  const noRwx = policy({ accessModes: { denied: ['ReadWriteMany'] } });
  it('pass, fail, UPDATE', () => {
    assert.deepEqual(judge([rwop], pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteOncePod'] })).denials, []);
    assert.deepEqual(rulesOf(judge([rwop], pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteOnce'] })).denials), [
      'access-modes/not-allowed',
    ]);
    assert.deepEqual(
      rulesOf(judge([noRwx], pvc({ storageClassName: 'efs', accessModes: ['ReadWriteMany'] })).denials),
      ['access-modes/not-allowed'],
    );
    const old = pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteOnce'] });
    const result = judge([rwop], relabeled(old), { operation: 'UPDATE', oldObject: old });
    assert.deepEqual([result.denials, rulesOf(result.warnings)], [[], ['access-modes/not-allowed']]);
  });
});

describe('claim metadata: required labels and annotations', () => {
  const owner = policy({ claimMetadata: { required: [{ label: 'team', pattern: '[a-z]+' }] } });
  const nfs = policy({
    claimMetadata: {
      required: [{ annotation: 'nfs.io/storage-path', pattern: '.+', ifPresent: true, whenClasses: ['efs'] }],
    },
  });
  it('pass: present and matching, on claims and templates', () => {
    assert.deepEqual(judge([owner], pvc({ storageClassName: 'gp3' }, { labels: { team: 'payments' } })).denials, []);
    assert.deepEqual(
      judge([owner], statefulSet([template('data', { storageClassName: 'gp3' }, { labels: { team: 'web' } })])).denials,
      [],
    );
  });
  it('fail: missing, or not matching the whole pattern; ifPresent and whenClasses narrow it', () => {
    assert.match(
      judge([owner], pvc({ storageClassName: 'gp3' })).denials[0]?.message ?? '',
      /the label team is required \(matching \[a-z\]\+\)/,
    );
    assert.deepEqual(
      rulesOf(judge([owner], pvc({ storageClassName: 'gp3' }, { labels: { team: 'Payments-1' } })).denials),
      ['claim-metadata/required'],
    );
    assert.deepEqual(rulesOf(judge([owner], statefulSet([template('data', { storageClassName: 'gp3' })])).denials), [
      'claim-metadata/required',
    ]);
    assert.deepEqual(
      judge([nfs], pvc({ storageClassName: 'efs', accessModes: ['ReadWriteMany'] })).denials,
      [],
      'absent, and ifPresent',
    );
    assert.deepEqual(
      rulesOf(
        judge(
          [nfs],
          pvc(
            { storageClassName: 'efs', accessModes: ['ReadWriteMany'] },
            { annotations: { 'nfs.io/storage-path': '' } },
          ),
        ).denials,
      ),
      ['claim-metadata/required'],
    );
    assert.deepEqual(
      judge([nfs], pvc({ storageClassName: 'gp3' }, { annotations: { 'nfs.io/storage-path': '' } })).denials,
      [],
      'another class',
    );
  });
  it('UPDATE: adding the label fixes it; an old claim without it is warned', () => {
    const old = pvc({ storageClassName: 'gp3' });
    assert.deepEqual(rulesOf(judge([owner], relabeled(old), { operation: 'UPDATE', oldObject: old }).warnings), [
      'claim-metadata/required',
    ]);
  });
});

describe('class requirements: what StorageClasses must look like', () => {
  it('reclaim policy (absent means Delete), expansion, binding mode, provisioner, mount options', () => {
    assert.deepEqual(judge([classPolicy({ reclaimPolicies: ['Delete'] })], sc({ reclaimPolicy: null })).denials, []);
    assert.deepEqual(
      rulesOf(judge([classPolicy({ reclaimPolicies: ['Delete'] })], sc({ reclaimPolicy: 'Retain' })).denials),
      ['class-requirements/reclaim-policy'],
    );
    assert.deepEqual(rulesOf(judge([classPolicy({ allowVolumeExpansion: 'required' })], sc()).denials), [
      'class-requirements/volume-expansion',
    ]);
    assert.deepEqual(
      judge([classPolicy({ allowVolumeExpansion: 'required' })], sc({ allowVolumeExpansion: true })).denials,
      [],
    );
    assert.deepEqual(
      rulesOf(judge([classPolicy({ allowVolumeExpansion: 'forbidden' })], sc({ allowVolumeExpansion: true })).denials),
      ['class-requirements/volume-expansion'],
    );
    assert.deepEqual(
      rulesOf(
        judge([classPolicy({ volumeBindingMode: 'WaitForFirstConsumer' })], sc({ volumeBindingMode: null })).denials,
      ),
      ['class-requirements/binding-mode'],
    );
    assert.deepEqual(rulesOf(judge([classPolicy({ provisioners: ['efs.csi.aws.com'] })], sc()).denials), [
      'class-requirements/provisioner',
    ]);
    assert.deepEqual(
      rulesOf(
        judge([classPolicy({ mountOptions: ['nfsvers=4.1'] })], sc({ mountOptions: ['nfsvers=4.1', 'debug'] })).denials,
      ),
      ['class-requirements/mount-options'],
    );
  });
  it('parameters: EBS encrypted "true" and a kmsKeyId pattern, per provisioner, names case-insensitive', () => {
    const encrypted = classPolicy({
      parameters: [
        { provisioner: 'ebs.csi.aws.com', name: 'encrypted', values: ['true'] },
        { provisioner: 'ebs.csi.aws.com', name: 'kmsKeyId', pattern: 'arn:aws:kms:.*', optional: true },
      ],
    });
    assert.deepEqual(judge([encrypted], sc()).denials, []);
    assert.deepEqual(
      judge(
        [encrypted],
        sc({ parameters: { type: 'gp3', Encrypted: 'true', kmsKeyId: 'arn:aws:kms:us-east-1:1:key/x' } }),
      ).denials,
      [],
    );
    assert.match(
      judge([encrypted], sc({ parameters: { type: 'gp3' } })).denials[0]?.message ?? '',
      /encrypted is required for ebs\.csi\.aws\.com: set it to one of "true"/,
    );
    assert.deepEqual(
      rulesOf(judge([encrypted], sc({ parameters: { type: 'gp3', encrypted: 'true', kmsKeyId: 'alias/x' } })).denials),
      ['class-requirements/parameter'],
    );
    assert.deepEqual(
      judge([encrypted], storageClass('nfs', 'nfs.csi.k8s.io', { volumeBindingMode: 'Immediate' })).denials,
      [],
      'another provisioner',
    );
  });
  it('UPDATE: parameters are immutable, so an old class is warned, not denied', () => {
    const old = sc({ parameters: { type: 'gp3' } });
    const result = judge([classPolicy({ parameters: [{ name: 'encrypted', values: ['true'] }] })], relabeled(old), {
      operation: 'UPDATE',
      oldObject: old,
    });
    assert.deepEqual([result.denials, rulesOf(result.warnings)], [[], ['class-requirements/parameter']]);
  });
});

describe('lint and explain for the new settings', () => {
  it('flags empty sections and settings for kinds the policy does not govern', () => {
    const text = `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: odd}
spec:
  match: {kinds: [StorageClass]}
  storageClasses: {}
  claimMetadata: {required: [{label: team}]}
---
apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: class-rules-for-claims}
spec:
  match: {}
  storageClasses: {allowed: [gp3]}
  classRequirements: {reclaimPolicies: [Delete]}
`;
    const { policies, problems } = parsePolicies(text, 'odd.yaml');
    assert.deepEqual(problems, []);
    const checks = lintPolicies(policies).map((problem) => `${problem.check} ${problem.field}`);
    for (const expected of [
      'empty-section spec.storageClasses',
      'never-applies spec.claimMetadata',
      'never-applies spec.classRequirements',
    ]) {
      assert.ok(checks.includes(expected), `${expected} in ${checks.join('; ')}`);
    }
  });
  it('refuses at load a fallback or a default the policy itself forbids; lint flags a policy that denies every class it allows', () => {
    const document = (name: string, classes: string) => `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: ${name}}
spec:
  match: {}
  storageClasses: ${classes}
`;
    const refused = (classes: string) =>
      parsePolicies(document('self-contradiction', classes), 'p.yaml').problems.map(
        (problem) => `${problem.field}: ${problem.message}`,
      );
    assert.deepEqual(refused('{allowed: [gp3], fallback: io2}'), [
      'spec.storageClasses.fallback: fallback class "io2" is not in storageClasses.allowed (gp3): every rewritten claim would be denied',
    ]);
    assert.deepEqual(refused('{denied: [io1], fallback: io1}'), [
      'spec.storageClasses.fallback: fallback class "io1" is in storageClasses.denied: every rewritten claim would be denied',
    ]);
    assert.deepEqual(refused('{denied: [io1], defaults: [{class: io1}]}'), [
      'spec.storageClasses.defaults[0].class: default class "io1" is in storageClasses.denied: every defaulted claim would be denied',
    ]);
    assert.deepEqual(
      refused('{allowed: [gp3], denied: [io1], fallback: gp3, defaults: [{class: gp3}]}'),
      [],
      'a coherent policy loads',
    );
    const { policies } = parsePolicies(document('nothing-left', '{allowed: [gp3, io2], denied: [gp3, io2]}'), 'p.yaml');
    assert.deepEqual(
      lintPolicies(policies).map((problem) => `${problem.severity} ${problem.check} ${problem.field}`),
      ['error no-admissible-class spec.storageClasses.denied'],
    );
    const { policies: partly } = parsePolicies(document('one-left', '{allowed: [gp3, io2], denied: [io2]}'), 'p.yaml');
    assert.deepEqual(lintPolicies(partly), []);
  });
  it('refuses a requirement naming both or neither of label and annotation, and an invalid pattern', () => {
    const text = `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: bad}
spec:
  match: {}
  claimMetadata: {required: [{label: a, annotation: b}, {pattern: "("}]}
`;
    const messages = parsePolicies(text, 'bad.yaml').problems.map((problem) => problem.message);
    assert.ok(
      messages.some((message) => message.includes('exactly one of label or annotation')),
      messages.join('; '),
    );
    assert.ok(
      messages.some((message) => message.includes('not a valid regular expression')),
      messages.join('; '),
    );
  });
  it('explain says what the new settings do', () => {
    const p = policy({
      storageClasses: { denied: ['io1-slow'], required: true, fallback: 'gp3' },
      accessModes: { allowed: ['ReadWriteOncePod'] },
      claimMetadata: { required: [{ label: 'team' }] },
    });
    const effects = explain([p], 'team-a', 'PersistentVolumeClaim', cluster())[0]?.effects.join('\n') ?? '';
    for (const fragment of [
      'denied classes: io1-slow',
      'a class is required',
      'rewritten to gp3 on CREATE',
      'access modes: only ReadWriteOncePod',
      'claims need the label team',
    ])
      assert.ok(effects.includes(fragment), `${fragment} in ${effects}`);
  });
});
