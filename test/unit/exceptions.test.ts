import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { auditObject } from '../../src/audit/reports.js';
import { exceptionsFor } from '../../src/authoring/explain.js';
import { lintPolicies } from '../../src/authoring/lint.js';
import type { JsonObject } from '../../src/core/json.js';
import { Engine } from '../../src/engine/engine.js';
import { decide, reviewInputOf } from '../../src/engine/pipeline.js';
import { loadPolicies, parsePolicies } from '../../src/engine/policies.js';
import type { Policy, PolicyException } from '../../src/policy/model.js';
import { buildServer } from '../../src/server/app.js';
import { WebhookState } from '../../src/server/state.js';
import { at, cluster, policy, pvc, rulesOf, statefulSet, template } from '../helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const platform = policy({ name: 'platform', storageClasses: { allowed: ['gp3'] }, zones: { allowed: ['zone-a'] } });
const EXPIRY = '2027-03-31T00:00:00Z';
const exception = (overrides: Partial<PolicyException> = {}): PolicyException => ({
  name: 'ledger-io1-until-migration',
  file: 'exceptions.yaml',
  owner: 'payments-dba@example.com',
  reason: 'DBA-1234: io1 until the migration to io2',
  expiresAt: EXPIRY,
  permanent: false,
  policies: [{ name: 'platform', rules: ['storage-class/allowed'] }],
  match: {
    kinds: ['StatefulSet', 'PersistentVolumeClaim'],
    namespaces: ['payments'],
    names: ['ledger', 'data-ledger-*'],
    labelSelector: { matchLabels: { app: 'ledger' } },
  },
  ...overrides,
});
const ledger = (replicas = 2): JsonObject => ({
  ...statefulSet(
    [template('data', { storageClassName: 'io1-slow' })],
    { nodeSelector: { 'topology.kubernetes.io/zone': 'zone-a' } },
    replicas,
    { name: 'ledger', namespace: 'payments' },
  ),
  metadata: { name: 'ledger', namespace: 'payments', labels: { app: 'ledger' } },
});
const ledgerClaim = (name = 'data-ledger-0', labels: Record<string, string> = { app: 'ledger' }) =>
  pvc({ storageClassName: 'io1-slow' }, { name, namespace: 'payments', labels });

function judgeAt(
  instant: string,
  object: JsonObject,
  exceptions: PolicyException[],
  policies: Policy[] = [platform],
  oldObject?: JsonObject,
) {
  const input = reviewInputOf({ object, operation: oldObject ? 'UPDATE' : 'CREATE', oldObject });
  assert.ok(input);
  return decide(new Engine({ policies, lookup: cluster(), now: () => Date.parse(instant), exceptions }), input, 'both');
}

describe('exceptions: matching and effect', () => {
  it('pass: the named StatefulSet and the claims of its template are exempted, reported with owner, reason and date', () => {
    const sts = judgeAt('2027-01-01T00:00:00Z', ledger(), [exception()]);
    assert.equal(sts.allowed, true, sts.message);
    assert.deepEqual(rulesOf(sts.findings), ['storage-class/allowed']);
    assert.deepEqual(sts.warnings, [
      'storage-class/allowed: exempted by ledger-io1-until-migration until 2027-03-31T00:00:00Z (payments-dba@example.com: DBA…',
    ]);
    assert.deepEqual(
      sts.fired.map((fired) => fired.action),
      ['exempted'],
    );
    assert.equal(
      judgeAt('2027-01-01T00:00:00Z', ledgerClaim('data-ledger-3'), [exception()]).allowed,
      true,
      'a claim the StatefulSet controller creates: the template labels',
    );
  });
  it('fail: another name, namespace, label, kind or rule is judged as before', () => {
    const at2027 = (object: JsonObject, overrides: Partial<PolicyException> = {}) =>
      judgeAt('2027-01-01T00:00:00Z', object, [exception(overrides)]);
    assert.equal(at2027(ledgerClaim('data-orders-0')).allowed, false, 'name');
    assert.equal(
      at2027(
        pvc(
          { storageClassName: 'io1-slow' },
          { name: 'data-ledger-0', namespace: 'team-a', labels: { app: 'ledger' } },
        ),
      ).allowed,
      false,
      'namespace',
    );
    assert.equal(at2027(ledgerClaim('data-ledger-0', { app: 'other' })).allowed, false, 'labels');
    assert.equal(at2027(ledgerClaim(), { match: { kinds: ['StatefulSet'] } }).allowed, false, 'kind');
    const wrongRule = at2027(ledgerClaim(), { policies: [{ name: 'platform', rules: ['zones/claim-class'] }] });
    assert.deepEqual(
      rulesOf(wrongRule.findings.filter((finding) => finding.action === 'deny')),
      ['storage-class/allowed'],
      'rule',
    );
  });
  it('UPDATE: scaling the exempted StatefulSet is exempted too, with the same note', () => {
    const verdict = judgeAt('2027-01-01T00:00:00Z', ledger(3), [exception()], [platform], ledger(2));
    assert.equal(verdict.allowed, true);
    assert.match(verdict.warnings[0] ?? '', /^storage-class\/allowed: exempted by ledger-io1-until-migration/);
  });
  it('expiry is one instant: exempted a millisecond before, denied at it; a countdown in the last 14 days; permanent has none', () => {
    assert.equal(judgeAt('2027-03-30T23:59:59.999Z', ledgerClaim(), [exception()]).allowed, true);
    assert.equal(judgeAt(EXPIRY, ledgerClaim(), [exception()]).allowed, false);
    const soon = judgeAt('2027-03-26T00:00:00Z', ledgerClaim(), [exception({ name: 'ledger', reason: 'DBA-1' })]);
    assert.match(
      soon.warnings[0] ?? '',
      /^storage-class\/allowed: exempted by ledger until 2027-03-31T00:00:00Z, expires in 5 days \(payments-dba@example\.com/,
    );
    assert.match(soon.findings[0]?.exemption?.note ?? '', /expires in 5 days \(payments-dba@example\.com: DBA-1\)$/);
    const forever = judgeAt('2030-01-01T00:00:00Z', ledgerClaim(), [
      exception({ name: 'ledger', expiresAt: undefined, permanent: true, reason: 'DBA-1' }),
    ]);
    assert.match(forever.warnings[0] ?? '', /exempted by ledger permanently \(payments-dba@example\.com: DBA-1\)$/);
  });
  it('an exempted rule does not mutate: a whole-policy exception leaves the pod template unpinned; a rule exception the rest alone', () => {
    const unpinned = statefulSet([template('data', { storageClassName: 'gp3' })], {}, 1, {
      name: 'ledger',
      namespace: 'payments',
    });
    unpinned['metadata'] = { name: 'ledger', namespace: 'payments', labels: { app: 'ledger' } };
    const pinned = judgeAt('2027-01-01T00:00:00Z', unpinned, [
      exception({ policies: [{ name: 'platform', rules: ['storage-class/allowed'] }] }),
    ]);
    assert.ok(at(pinned.object, 'spec', 'template', 'spec', 'affinity'), 'zones are not exempted: pinned');
    const whole = judgeAt('2027-01-01T00:00:00Z', unpinned, [exception({ policies: [{ name: 'platform' }] })]);
    assert.equal(
      at(whole.object, 'spec', 'template', 'spec', 'affinity'),
      undefined,
      'the whole policy is exempted: not pinned',
    );
    assert.equal(whole.allowed, true);
    const ruleOnly = judgeAt('2027-01-01T00:00:00Z', unpinned, [
      exception({ policies: [{ name: 'platform', rules: ['zones/pod-affinity'] }] }),
    ]);
    assert.equal(
      at(ruleOnly.object, 'spec', 'template', 'spec', 'affinity'),
      undefined,
      'zones/pod-affinity exempted: zones/pin does not run',
    );
  });
  it('the webhook, review and the audit say the same at the same instant: allowed with the note, and skip with the exception named', async () => {
    const instant = Date.parse('2027-01-01T00:00:00Z');
    const state = new WebhookState(cluster());
    state.swap({ policies: [platform], exceptions: [exception()], files: [], locate: () => undefined });
    const offline = decide(
      new Engine({ policies: [platform], lookup: cluster(), now: () => instant, exceptions: [exception()] }),
      reviewInputOf({ object: ledgerClaim(), operation: 'CREATE' }) ?? assert.fail(),
      'validate',
    );
    const audited = auditObject(
      new Engine({ policies: [platform], lookup: cluster(), now: () => instant, exceptions: [exception()] }),
      ledgerClaim(),
      0,
    );
    assert.equal(offline.allowed, true);
    assert.deepEqual(
      audited?.results.map((result) => [result.result, result.properties?.['exception']]),
      [['skip', 'ledger-io1-until-migration']],
    );
    // The webhook reads the real clock: before the 2027 expiry the same claim is exempted there too.
    const app = buildServer({ state, logger: pino({ level: 'silent' }) });
    const body = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u',
        kind: { group: '', version: 'v1', kind: 'PersistentVolumeClaim' },
        namespace: 'payments',
        operation: 'CREATE',
        object: ledgerClaim(),
      },
    };
    const response = (
      await app.inject({
        method: 'POST',
        url: '/validate',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      })
    ).json();
    await app.close();
    assert.ok(Date.now() < Date.parse(EXPIRY), 'this case needs the real clock before the expiry');
    assert.equal(response.response.allowed, true);
    assert.deepEqual(response.response.warnings, offline.warnings);
  });
});

describe('exceptions: files, caps, lint and explain', () => {
  const document = (spec: string) => `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicyException
metadata: {name: ledger}
spec:
${spec}`;
  const valid = `  owner: dba@example.com
  reason: "DBA-1234"
  expiresAt: "2027-03-31T00:00:00Z"
  policies: [{name: platform, rules: [storage-class/allowed]}]
  match: {kinds: [StatefulSet], namespaces: [payments], names: [ledger]}
`;
  it('loads beside policies in the same files; refuses what it cannot mean', () => {
    const parsed = parsePolicies(document(valid), 'x.yaml');
    assert.deepEqual([parsed.problems, parsed.exceptions.map((entry) => entry.name)], [[], ['ledger']]);
    const problems = (spec: string) =>
      parsePolicies(document(spec), 'x.yaml').problems.map((problem) => `${problem.field}: ${problem.message}`);
    assert.deepEqual(problems(valid.replace('  expiresAt: "2027-03-31T00:00:00Z"\n', '')), [
      'spec: an exception needs expiresAt (RFC 3339), or permanent: true',
    ]);
    assert.deepEqual(problems(valid.replace('storage-class/allowed', 'storage-class/nope')), [
      'spec.policies[0].rules[0]: must be one of ' +
        problems(valid.replace('storage-class/allowed', 'storage-class/nope'))[0]?.split('must be one of ')[1],
    ]);
    assert.deepEqual(problems(valid.replace('  owner: dba@example.com\n', '')), [
      "spec: must have required property 'owner'",
    ]);
  });
  it('a policy can refuse exceptions or cap their length: loading the folder refuses one that breaks it', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'exceptions-'));
    try {
      const write = (exceptions: string, expiresAt: string) =>
        writeFile(
          join(folder, 'set.yaml'),
          `apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: platform}\nspec:\n  exceptions: ${exceptions}\n  match: {}\n  storageClasses: {allowed: [gp3]}\n---\n${document(valid.replace('2027-03-31T00:00:00Z', expiresAt))}`,
        );
      const soon = new Date(Date.now() + 30 * 86_400_000).toISOString();
      const late = new Date(Date.now() + 200 * 86_400_000).toISOString();
      await write('{maxDays: 90}', soon);
      assert.equal((await loadPolicies(folder)).exceptions.length, 1);
      await write('{maxDays: 90}', late);
      await assert.rejects(
        loadPolicies(folder),
        /is more than the 90 days policy platform allows an exception \[exception ledger\]/,
      );
      await write('{allowed: false}', soon);
      await assert.rejects(loadPolicies(folder), /policy platform allows no exceptions/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
  it('policy test suites include exceptions, and storage-policy test --now judges them at that instant', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'suite-'));
    try {
      await writeFile(
        join(folder, 'set.yaml'),
        `apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: platform}\nspec:\n  match: {}\n  storageClasses: {allowed: [gp3]}\n---\n${document(valid)}`,
      );
      await writeFile(
        join(folder, 'ledger.test.yaml'),
        `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicyTest
metadata: {name: ledger}
spec:
  policies: [set.yaml]
  cases:
    - name: the ledger StatefulSet is exempted
      namespace: payments
      resource:
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: ledger, namespace: payments}
        spec:
          serviceName: ledger
          selector: {matchLabels: {app: ledger}}
          template: {metadata: {labels: {app: ledger}}, spec: {containers: [{name: db, image: postgres}]}}
          volumeClaimTemplates: [{metadata: {name: data}, spec: {storageClassName: io1, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}}]
      expect: {decision: allowed}
`,
      );
      const run = (now: string) =>
        spawnSync(process.execPath, [CLI, 'test', folder, '--now', now], { encoding: 'utf8' });
      const before = run('2027-01-01T00:00:00Z');
      assert.equal(before.status, 0, before.stdout);
      const after = run('2027-04-01T00:00:00Z');
      assert.equal(after.status, 1, after.stdout);
      assert.match(after.stdout, /FAIL ledger \/ the ledger StatefulSet is exempted/);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
  it('lint: an unknown policy, an expired exception, two covering the same objects', () => {
    const checks = lintPolicies([platform], {
      now: Date.parse('2027-04-01T00:00:00Z'),
      exceptions: [
        exception(),
        exception({ name: 'other', expiresAt: '2027-06-01T00:00:00Z' }),
        exception({ name: 'typo', expiresAt: '2027-06-01T00:00:00Z', policies: [{ name: 'platfrom' }] }),
      ],
    }).map((problem) => `${problem.severity} ${problem.check}`);
    assert.deepEqual(checks, [
      'warning exception-expired',
      'warning exception-overlap',
      'error exception-unknown-policy',
    ]);
  });
  it('explain lists the exceptions that may apply to a namespace, with their note', () => {
    assert.deepEqual(exceptionsFor([exception()], 'payments', 'StatefulSet', Date.parse('2027-01-01T00:00:00Z')), [
      'exempted by ledger-io1-until-migration until 2027-03-31T00:00:00Z (payments-dba@example.com: DBA-1234: io1 until the migration to io2): platform (storage-class/allowed), for names ledger, data-ledger-* and a label selector',
    ]);
    assert.deepEqual(exceptionsFor([exception()], 'team-a', 'StatefulSet', Date.parse('2027-01-01T00:00:00Z')), []);
  });
});
