import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { auditReports, MAX_RESULTS_PER_REPORT, REPORT_API_VERSION } from '../../src/audit/reports.js';
import { Engine } from '../../src/engine/engine.js';
import { cluster, policy, pvc, storageClass } from '../helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('audit: existing objects as PolicyReports', () => {
  const platform = policy({ name: 'platform', storageClasses: { allowed: ['gp3'] }, iops: { maxPerVolume: 20000 } });
  const classes = policy({ name: 'classes', match: { kinds: ['StorageClass'] }, classRequirements: { reclaimPolicies: ['Delete'] } });
  const engine = new Engine([platform, classes], cluster());
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
    const failures = teamA?.results.filter((result) => result.result === 'fail').map((result) => `${result.resources[0]?.name} ${result.rule}`);
    assert.deepEqual(failures, ['bad iops/volume-budget', 'bad storage-class/allowed']);
    assert.deepEqual(teamA?.results.find((result) => result.result === 'pass')?.resources[0], { apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'ok', namespace: 'team-a', uid: 'u-1' });
    assert.equal(reports[0]?.results[0]?.severity, 'high');
  });

  it('the same objects give the same reports; a fixed object loses its failure', () => {
    assert.deepEqual(auditReports(engine, objects, new Date(0)), auditReports(engine, [...objects].reverse(), new Date(0)));
    const fixed = auditReports(engine, [pvc({ storageClassName: 'gp3' }, { name: 'bad' })], new Date(0));
    assert.equal(fixed[0]?.summary.fail, 0);
  });

  it(`splits a namespace's results every ${MAX_RESULTS_PER_REPORT}`, () => {
    const many = Array.from({ length: MAX_RESULTS_PER_REPORT + 10 }, (_, index) => pvc({ storageClassName: 'io2' }, { name: `claim-${index}` }));
    const reports = auditReports(new Engine([policy({ storageClasses: { allowed: ['gp3'] } })], cluster()), many, new Date(0));
    assert.deepEqual(
      reports.map((report) => [report.metadata.name, report.results.length]),
      [
        ['storage-policy-webhook', MAX_RESULTS_PER_REPORT],
        ['storage-policy-webhook-2', 10],
      ],
    );
  });

  it('storage-policy audit: exit 1 with the failures, -o yaml a v1 List, -n one namespace, exit 2 without input', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'audit', ...args], { cwd: ROOT, encoding: 'utf8' });
    const text = run('--inventory', 'examples/cluster', '--inventory', 'examples/apps');
    assert.equal(text.status, 1, text.stderr);
    assert.match(text.stdout, /fail {2}PersistentVolumeClaim\/ledger {2}platform-storage iops\/volume-budget/);
    const yaml = parse(run('--inventory', 'examples/cluster', '--inventory', 'examples/apps', '-o', 'yaml', '-n', 'analytics').stdout);
    assert.equal(yaml.kind, 'List');
    assert.deepEqual(
      yaml.items.map((report: { kind: string; metadata: { namespace: string } }) => [report.kind, report.metadata.namespace]),
      [['PolicyReport', 'analytics']],
    );
    assert.equal(run('--inventory', 'examples/cluster', '-n', 'analytics').status, 0, 'nothing in analytics fails');
    assert.equal(run().status, 2);
  });
});
