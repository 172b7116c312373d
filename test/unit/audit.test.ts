import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Auditor } from '../../src/audit/auditor.js';
import { formatReportsText } from '../../src/audit/reports.js';
import { trimmedSubjectOf } from '../../src/core/subjects.js';
import { MAX_RESULTS_PER_REPORT, REPORT_API_VERSION, reportDigest } from '../../src/audit/reports.js';
import type { JsonObject } from '../../src/core/json.js';
import { Engine } from '../../src/engine/engine.js';
import { reviewInputOf } from '../../src/engine/pipeline.js';
import { at, auditReports, cluster, policy, pvc, statefulSet, storageClass, template } from '../helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('audit: existing objects as PolicyReports', () => {
  const platform = policy({ name: 'platform', storageClasses: { allowed: ['gp3'] }, iops: { maxPerVolume: 20000 } });
  const classes = policy({
    name: 'classes',
    match: { kinds: ['StorageClass'] },
    classRequirements: { reclaimPolicies: ['Delete'] },
  });
  const engine = new Engine({ policies: [platform, classes], lookup: cluster() });
  const objects = [
    pvc({ storageClassName: 'gp3' }, { name: 'ok', uid: 'u-1' }),
    pvc({ storageClassName: 'io2', resources: { requests: { storage: '300Gi' } } }, { name: 'bad' }),
    pvc({ storageClassName: 'gp3' }, { name: 'elsewhere', namespace: 'team-b' }),
    storageClass('kept', 'ebs.csi.aws.com', { reclaimPolicy: 'Retain' }),
  ];

  it('one PolicyReport per namespace and a ClusterPolicyReport; fail, pass and counts as the engine judges', () => {
    const reports = auditReports(engine, objects, new Date(0));
    assert.deepEqual(
      reports.map((report) => [report.kind, report.metadata.namespace ?? '', report.summary.fail, report.summary.pass]),
      [
        ['ClusterPolicyReport', '', 1, 0],
        ['PolicyReport', 'team-a', 2, 1],
        ['PolicyReport', 'team-b', 0, 1],
      ],
    );
    const teamA = reports[1];
    assert.equal(teamA?.apiVersion, REPORT_API_VERSION);
    const failures = teamA?.results
      .filter((result) => result.result === 'fail')
      .map((result) => `${result.resources[0]?.name} ${result.rule}`);
    assert.deepEqual(failures, ['bad iops/volume-budget', 'bad storage-class/allowed']);
    assert.deepEqual(teamA?.results.find((result) => result.result === 'pass')?.resources[0], {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      name: 'ok',
      namespace: 'team-a',
      uid: 'u-1',
    });
    assert.equal(reports[0]?.results[0]?.severity, 'high');
  });

  it('the same objects give the same reports; a fixed object loses its failure', () => {
    assert.deepEqual(
      auditReports(engine, objects, new Date(0)),
      auditReports(engine, [...objects].reverse(), new Date(0)),
    );
    const fixed = auditReports(engine, [pvc({ storageClassName: 'gp3' }, { name: 'bad' })], new Date(0));
    assert.equal(fixed[0]?.summary.fail, 0);
  });

  it(`splits a namespace's results every ${MAX_RESULTS_PER_REPORT}`, () => {
    const many = Array.from({ length: MAX_RESULTS_PER_REPORT + 10 }, (_, index) =>
      pvc({ storageClassName: 'io2' }, { name: `claim-${index}` }),
    );
    const reports = auditReports(
      new Engine({ policies: [policy({ storageClasses: { allowed: ['gp3'] } })], lookup: cluster() }),
      many,
      new Date(0),
    );
    assert.deepEqual(
      reports.map((report) => [report.metadata.name, report.results.length]),
      [
        ['storage-policy-webhook', MAX_RESULTS_PER_REPORT],
        ['storage-policy-webhook-2', 10],
      ],
    );
  });

  it('storage-policy audit: exit 1 with the failures, -o yaml a v1 List, -n one namespace, exit 2 without input', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'audit', ...args], { cwd: ROOT, encoding: 'utf8' });
    const text = run('--inventory', 'examples/cluster', '--inventory', 'examples/apps');
    assert.equal(text.status, 1, text.stderr);
    assert.match(text.stdout, /fail {2}PersistentVolumeClaim\/ledger {2}platform-storage iops\/volume-budget/);
    const yaml = parse(
      run('--inventory', 'examples/cluster', '--inventory', 'examples/apps', '-o', 'yaml', '-n', 'analytics').stdout,
    );
    assert.equal(yaml.kind, 'List');
    assert.deepEqual(
      yaml.items.map((report: { kind: string; metadata: { namespace: string } }) => [
        report.kind,
        report.metadata.namespace,
      ]),
      [['PolicyReport', 'analytics']],
    );
    assert.equal(run('--inventory', 'examples/cluster', '-n', 'analytics').status, 0, 'nothing in analytics fails');
    assert.equal(run().status, 2);
  });
});

describe('auditor: existing objects judged incrementally', () => {
  const platform = policy({
    name: 'platform',
    storageClasses: { allowed: ['gp3', 'io2'] },
    iops: { maxPerVolume: 20000 },
  });
  const engine = new Engine({ policies: [platform], lookup: cluster() });
  const failing = (auditor: Auditor): string[] =>
    auditor
      .reports()
      .flatMap((report) => report.results)
      .filter((result) => result.result !== 'pass')
      .map((result) => `${result.resources[0]?.namespace}/${result.resources[0]?.name} ${result.rule}`);

  it('an existing violation is a fail at the policy action, where an unchanged UPDATE only warns it', () => {
    const bad = pvc({ storageClassName: 'efs' }, { name: 'bad' });
    const input = reviewInputOf({ object: bad, operation: 'UPDATE', oldObject: bad });
    assert.ok(input);
    assert.deepEqual(
      engine.judgeExisting(input).map((finding) => [finding.rule, finding.action, finding.preexisting]),
      [['storage-class/allowed', 'deny', true]],
    );
    assert.deepEqual(
      engine.validate(input).map((finding) => [finding.rule, finding.action]),
      [['storage-class/allowed', 'warn']],
      'the admission path keeps warning it, so the update goes through',
    );
  });

  it('fixing or deleting an object removes its result; a change re-judges only its namespace', () => {
    const auditor = new Auditor();
    auditor.upsert(pvc({ storageClassName: 'efs' }, { name: 'bad' }));
    auditor.upsert(pvc({ storageClassName: 'efs' }, { name: 'other', namespace: 'team-b' }));
    assert.equal(auditor.run(engine), 2);
    assert.deepEqual(failing(auditor), ['team-a/bad storage-class/allowed', 'team-b/other storage-class/allowed']);
    auditor.upsert(pvc({ storageClassName: 'gp3' }, { name: 'bad' }));
    assert.equal(auditor.run(engine), 1, 'team-b is not judged again');
    assert.deepEqual(failing(auditor), ['team-b/other storage-class/allowed']);
    auditor.remove(pvc({}, { name: 'other', namespace: 'team-b' }));
    auditor.run(engine);
    assert.deepEqual(failing(auditor), []);
    assert.deepEqual(
      auditor.reports().map((report) => report.metadata.namespace),
      ['team-a'],
      'a namespace with nothing left has no report',
    );
  });

  it('without keepResults an auditor counts the same violations and keeps no results to report', () => {
    const objects = [
      pvc({ storageClassName: 'efs' }, { name: 'bad' }),
      pvc({ storageClassName: 'efs' }, { name: 'also-bad' }),
      pvc({ storageClassName: 'efs' }, { name: 'other', namespace: 'team-b' }),
      pvc({ storageClassName: 'gp3' }, { name: 'good' }),
    ];
    const reporting = new Auditor();
    const counting = new Auditor({ keepResults: false });
    for (const auditor of [reporting, counting]) {
      for (const object of objects) auditor.upsert(object);
      auditor.run(engine);
    }
    assert.deepEqual([...counting.violations().values()], [...reporting.violations().values()]);
    assert.deepEqual(
      [...counting.violations().values()].map(({ namespace, rule, count }) => `${namespace} ${rule} ${count}`).sort(),
      ['team-a storage-class/allowed 2', 'team-b storage-class/allowed 1'],
    );
    assert.throws(() => counting.reports(), /keeps no results/);
    // The cost metric needs no results kept: the serving webhook's auditor keeps none unless it writes reports.
    assert.deepEqual([...counting.monthlyCosts().entries()], [...reporting.monthlyCosts().entries()]);
    assert.ok((counting.monthlyCosts().get('team-a')?.total ?? 0) > 0);
    counting.upsert(pvc({ storageClassName: 'gp3' }, { name: 'bad' }));
    counting.run(engine);
    assert.deepEqual(
      [...counting.violations().values()].map(({ namespace, count }) => `${namespace} ${count}`).sort(),
      ['team-a 1', 'team-b 1'],
      'an UPDATE that fixes a claim takes its violation away',
    );
  });

  it('a new policy set changes the verdicts once everything is invalidated', () => {
    const auditor = new Auditor();
    auditor.upsert(pvc({ storageClassName: 'io2' }, { name: 'fast' }));
    auditor.run(engine);
    assert.deepEqual(failing(auditor), []);
    auditor.invalidateAll();
    auditor.run(
      new Engine({ policies: [policy({ name: 'strict', storageClasses: { allowed: ['gp3'] } })], lookup: cluster() }),
    );
    assert.deepEqual(failing(auditor), ['team-a/fast storage-class/allowed']);
  });

  it('a run proceeds in slices; a change during the run waits for the next one', () => {
    const auditor = new Auditor();
    for (const name of ['a', 'b', 'c']) auditor.upsert(pvc({ storageClassName: 'efs' }, { name }));
    assert.equal(auditor.begin(), 3);
    assert.equal(auditor.continueRun(engine, 0), false, 'a zero budget judges one object per slice');
    auditor.upsert(pvc({ storageClassName: 'efs' }, { name: 'd' }));
    assert.equal(auditor.begin(), 2, 'a run under way keeps its work');
    assert.equal(auditor.continueRun(engine, 0), false);
    assert.equal(auditor.continueRun(engine, 0), true);
    assert.deepEqual(failing(auditor), [
      'team-a/a storage-class/allowed',
      'team-a/b storage-class/allowed',
      'team-a/c storage-class/allowed',
    ]);
    assert.equal(auditor.pending, true);
    assert.equal(auditor.run(engine), 4, 'the next run takes the namespace the change marked');
    assert.equal(failing(auditor).length, 4);
  });

  it('replaceKind drops what a fresh list no longer has', () => {
    const auditor = new Auditor();
    auditor.upsert(pvc({ storageClassName: 'efs' }, { name: 'gone' }));
    auditor.upsert(storageClass('kept', 'ebs.csi.aws.com'));
    auditor.replaceKind('PersistentVolumeClaim', [pvc({ storageClassName: 'efs' }, { name: 'listed' })]);
    assert.equal(auditor.size, 2);
    auditor.run(engine);
    assert.deepEqual(failing(auditor), ['team-a/listed storage-class/allowed']);
  });

  it('keeps only what rules read: no managedFields, status, last-applied copy or containers', () => {
    const stored = statefulSet([template('data', { storageClassName: 'gp3' })], {
      nodeSelector: { 'topology.kubernetes.io/zone': 'zone-a' },
    });
    const metadata = stored['metadata'] as JsonObject;
    metadata['managedFields'] = [{ manager: 'kubectl' }];
    metadata['annotations'] = { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}', team: 'a' };
    stored['status'] = { replicas: 3 };
    const subject = trimmedSubjectOf(stored);
    assert.deepEqual(subject['metadata'], { name: 'web', namespace: 'team-a', annotations: { team: 'a' } });
    assert.equal(subject['status'], undefined);
    assert.deepEqual(at(subject, 'spec', 'template'), {
      spec: { nodeSelector: { 'topology.kubernetes.io/zone': 'zone-a' } },
    });
    assert.equal(at(subject, 'spec', 'replicas'), 3);
    assert.equal(at(subject, 'spec', 'volumeClaimTemplates', 0, 'spec', 'storageClassName'), 'gp3');
  });

  it("results carry what the object's claims provision; a StatefulSet counts every replica", () => {
    const auditor = new Auditor();
    auditor.upsert(pvc({ storageClassName: 'io2', resources: { requests: { storage: '100Gi' } } }, { name: 'db' }));
    auditor.upsert(
      statefulSet(
        [template('data', { storageClassName: 'io2', resources: { requests: { storage: '100Gi' } } })],
        {},
        3,
      ),
    );
    auditor.run(engine);
    const properties = auditor
      .reports()[0]
      ?.results.map((result) => [result.resources[0]?.name, result.properties?.['provisionedIops']]);
    assert.deepEqual(properties, [
      ['db', '10000'],
      ['web', '30000'],
    ]);
  });

  it("a claim's result carries its monthly cost (a StatefulSet's claims count as claims, never twice); the text totals them per namespace", () => {
    const auditor = new Auditor();
    // io2 at 100 IOPS/GiB: 100 GiB x 0.125 + 10000 IOPS x 0.065 = 662.50 a month.
    auditor.upsert(pvc({ storageClassName: 'io2', resources: { requests: { storage: '100Gi' } } }, { name: 'db' }));
    auditor.upsert(
      statefulSet(
        [template('data', { storageClassName: 'io2', resources: { requests: { storage: '100Gi' } } })],
        {},
        3,
      ),
    );
    auditor.run(engine);
    const reports = auditor.reports();
    const costs = reports[0]?.results.map((result) => [result.resources[0]?.name, result.properties?.['monthlyCost']]);
    assert.deepEqual(costs, [
      ['db', '662.50 USD'],
      ['web', undefined],
    ]);
    assert.match(
      formatReportsText(reports),
      /Monthly cost of the claims at list price:\n {2}team-a: 662\.50 USD\n {2}total: 662\.50 USD$/,
    );
  });

  it('idle claims: reported with their cost once unused longer than idleAfter, totalled per namespace; a cluster without the condition is told apart', () => {
    const idle = policy({ name: 'idle', storageClasses: { allowed: ['io2'] }, cost: { idleAfter: '720h' } });
    const at = (instant: string) => new Engine({ policies: [idle], lookup: cluster(), now: () => Date.parse(instant) });
    const claim = (name: string, conditions: JsonObject[] | undefined, phase = 'Bound'): JsonObject => ({
      ...pvc({ storageClassName: 'io2', resources: { requests: { storage: '100Gi' } } }, { name }),
      status: { phase, ...(conditions ? { conditions } : {}) },
    });
    const unused = (status: string) => [{ type: 'Unused', status, lastTransitionTime: '2026-11-01T00:00:00Z' }];
    const auditor = new Auditor();
    assert.equal(auditor.unusedConditionReported(), undefined, 'no bound claim: nothing to tell by');
    auditor.upsert(claim('never-bound', undefined, 'Pending'));
    auditor.upsert(claim('legacy', undefined));
    assert.equal(auditor.unusedConditionReported(), false, 'bound claims, none with the condition');
    auditor.upsert(claim('orphan', unused('True')));
    auditor.upsert(claim('busy', unused('False')));
    assert.equal(auditor.unusedConditionReported(), true);
    assert.deepEqual(auditor.unusedClaims(), [{ namespace: 'team-a', since: Date.parse('2026-11-01T00:00:00Z') }]);

    auditor.run(at('2026-11-20T00:00:00Z'));
    assert.deepEqual([...auditor.idleMonthlyCosts()], [], 'unused 19 days: not yet idle');
    auditor.invalidateAll();
    auditor.run(at('2026-12-07T00:00:00Z'));
    // io2 100 GiB at 100 IOPS/GiB: 662.50 a month, the orphan alone.
    assert.deepEqual([...auditor.idleMonthlyCosts()], [['team-a', { total: 662.5, currency: 'USD' }]]);
    const reports = auditor.reports();
    const idleResults = reports[0]?.results.filter((result) => result.rule === 'cost/idle') ?? [];
    assert.deepEqual(
      idleResults.map((result) => [result.resources[0]?.name, result.result, result.properties?.['monthlyCost']]),
      [['orphan', 'warn', '662.50 USD']],
    );
    assert.match(
      formatReportsText(reports),
      /Monthly cost of the idle claims \(unused longer than cost\.idleAfter\):\n {2}team-a: 662\.50 USD\n {2}total: 662\.50 USD$/,
    );
    // The trimmed subject keeps the phase and the Unused condition, nothing else of the status.
    const trimmed = trimmedSubjectOf({
      ...claim('orphan', unused('True')),
      status: {
        phase: 'Bound',
        capacity: { storage: '100Gi' },
        conditions: [...unused('True'), { type: 'Resizing', status: 'True' }],
      },
    });
    assert.deepEqual(trimmed['status'], { phase: 'Bound', conditions: unused('True') });
  });

  it("workloads: a Deployment or CronJob whose pod template makes a claim on a forbidden class fails; workloads with nothing judged, and a CronJob's Jobs, are not kept", () => {
    const workloads = new Engine({
      policies: [
        policy({
          name: 'platform',
          match: { kinds: ['Deployment', 'CronJob', 'Job'] },
          storageClasses: { allowed: ['gp3'] },
        }),
      ],
      lookup: cluster(),
    });
    const ephemeral = (storageClassName: string): JsonObject => ({
      containers: [
        { name: 'app', image: 'registry.example.com/app:1', env: [{ name: 'BIG', value: 'x'.repeat(1000) }] },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'app' } },
        {
          name: 'scratch',
          ephemeral: {
            volumeClaimTemplate: {
              spec: { storageClassName, accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
            },
          },
        },
      ],
    });
    const deployment = (name: string, podSpec: JsonObject): JsonObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'team-a' },
      spec: { replicas: 2, selector: {}, template: { metadata: { labels: { app: name } }, spec: podSpec } },
    });
    const cronJob: JsonObject = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace: 'team-a' },
      spec: { schedule: '@daily', jobTemplate: { spec: { parallelism: 3, template: { spec: ephemeral('io2') } } } },
    };
    const jobOfCronJob: JsonObject = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'nightly-29000000',
        namespace: 'team-a',
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'u', controller: true }],
      },
      spec: { parallelism: 3, template: { spec: ephemeral('io2') } },
    };
    const auditor = new Auditor();
    auditor.upsert(deployment('render', ephemeral('io2')));
    auditor.upsert(deployment('web', { containers: [{ name: 'web', image: 'registry.example.com/web:1' }] }));
    auditor.upsert(cronJob);
    auditor.upsert(jobOfCronJob);
    assert.equal(auditor.size, 2, 'the render Deployment and the CronJob');
    auditor.run(workloads);
    const failing = auditor
      .reports()
      .flatMap((report) => report.results)
      .filter((result) => result.result === 'fail')
      .map((result) => `${result.resources[0]?.kind}/${result.resources[0]?.name} ${result.rule}`);
    assert.deepEqual(failing.sort(), [
      'CronJob/nightly storage-class/allowed',
      'Deployment/render storage-class/allowed',
    ]);
    // Its volumes removed: no longer kept.
    auditor.upsert(deployment('render', { containers: [{ name: 'app', image: 'registry.example.com/app:2' }] }));
    assert.equal(auditor.size, 1);
    // What is kept of a CronJob: the pod counts down the path and the judged volumes, no containers.
    assert.deepEqual(trimmedSubjectOf(cronJob)['spec'], {
      jobTemplate: {
        spec: {
          parallelism: 3,
          template: { spec: { volumes: [(ephemeral('io2')['volumes'] as JsonObject[])[1] ?? null] } },
        },
      },
    });
  });

  it('the digest ignores timestamps and follows content', () => {
    const objects = [pvc({ storageClassName: 'efs' }, { name: 'bad' })];
    const [early] = auditReports(engine, objects, new Date(0));
    const [late] = auditReports(engine, objects, new Date(86_400_000));
    assert.ok(early && late);
    assert.notDeepEqual(early, late);
    assert.equal(reportDigest(early), reportDigest(late));
    const [fixed] = auditReports(engine, [pvc({ storageClassName: 'gp3' }, { name: 'bad' })], new Date(0));
    assert.ok(fixed);
    assert.notEqual(reportDigest(fixed), reportDigest(early));
  });
});
