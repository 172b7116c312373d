import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  diffPolicySets,
  formatDiffMarkdown,
  formatDiffText,
  MAX_MARKDOWN_CHARACTERS,
} from '../../src/authoring/diff.js';
import { lintPolicies } from '../../src/authoring/lint.js';
import type { JsonObject } from '../../src/core/json.js';
import { Engine } from '../../src/engine/engine.js';
import { decide, reviewInputOf } from '../../src/engine/pipeline.js';
import { cluster, policy, pvc, rulesOf } from '../helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const claimIn = (namespace: string, name: string, storageClassName: string): JsonObject =>
  pvc({ storageClassName }, { name, namespace });
const OBJECTS = [
  claimIn('team-a', 'orders', 'gp3'),
  claimIn('team-a', 'ledger', 'io2'),
  claimIn('team-b', 'cache', 'io2'),
  claimIn('team-c', 'logs', 'efs'),
];

describe('dated enforcement (spec.enforceFrom)', () => {
  const dated = policy({ storageClasses: { allowed: ['gp3'] }, enforceFrom: '2027-01-01T00:00:00Z' });
  const judgeAt = (instant: string, object: JsonObject, oldObject?: JsonObject) => {
    const input = reviewInputOf({ object, operation: oldObject ? 'UPDATE' : 'CREATE', oldObject });
    assert.ok(input);
    return decide(new Engine({ policies: [dated], lookup: cluster(), now: () => Date.parse(instant) }), input, 'both');
  };

  it('pass: before the instant a violation is a warning that says from when it denies', () => {
    const verdict = judgeAt('2026-12-31T23:59:59Z', claimIn('team-a', 'x', 'io2'));
    assert.equal(verdict.allowed, true);
    assert.deepEqual(rulesOf(verdict.findings), ['storage-class/allowed']);
    assert.match(
      verdict.warnings.join('\n'),
      /^storage-class\/allowed: spec\.storageClassName: enforced from 2027-01-01T00:00:00Z: class io2 is not allowed here/m,
    );
  });
  it('fail: from the instant it denies, with no reload', () => {
    assert.equal(judgeAt('2027-01-01T00:00:00Z', claimIn('team-a', 'x', 'io2')).allowed, false);
  });
  it('UPDATE: what the object already had stays a warning after the instant too (the ratchet)', () => {
    const old = claimIn('team-a', 'x', 'io2');
    const relabeled = { ...old, metadata: { name: 'x', namespace: 'team-a', labels: { a: 'b' } } };
    assert.equal(judgeAt('2027-02-01T00:00:00Z', relabeled, old).allowed, true);
  });
  it('the audit and review CLIs alike: --now before the instant, warn (exit 0); after it, fail (exit 1)', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'dated-'));
    try {
      await mkdir(join(folder, 'policies'));
      await writeFile(
        join(folder, 'policies', 'dated.yaml'),
        'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: dated}\nspec:\n  enforceFrom: "2027-01-01T00:00:00Z"\n  match: {}\n  storageClasses: {allowed: [gp3]}\n',
      );
      await writeFile(join(folder, 'claim.yaml'), JSON.stringify(claimIn('team-a', 'x', 'io2')));
      const run = (command: string, now: string) =>
        spawnSync(
          process.execPath,
          [
            CLI,
            command,
            ...(command === 'audit' ? ['--inventory'] : ['-f']),
            join(folder, 'claim.yaml'),
            '--policies',
            join(folder, 'policies'),
            '--now',
            now,
          ],
          {
            encoding: 'utf8',
          },
        );
      for (const command of ['audit', 'review']) {
        const before = run(command, '2026-12-31T00:00:00Z');
        assert.equal(before.status, 0, `${command}: ${before.stdout}${before.stderr}`);
        assert.match(before.stdout, /enforced from 2027-01-01T00:00:00Z/);
        assert.equal(run(command, '2027-01-02T00:00:00Z').status, 1, command);
      }
      assert.equal(run('audit', 'friday').status, 2, 'a --now that is no instant');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
  it('lint warns once the instant has passed', () => {
    const checks = (now: number) => lintPolicies([dated], { now }).map((problem) => problem.check);
    assert.deepEqual(checks(Date.parse('2026-06-01T00:00:00Z')), []);
    assert.deepEqual(checks(Date.parse('2027-06-01T00:00:00Z')), ['enforce-from-past']);
  });
});

describe('storage-policy diff', () => {
  const state = cluster(...OBJECTS);
  const current = policy({
    name: 'platform',
    storageClasses: { allowed: ['gp3', 'io2', 'efs'], defaults: [{ class: 'gp3' }] },
  });

  it('a narrower allow list: exactly the claims that start failing, by name; a new default for new claims', () => {
    const proposed = policy({
      name: 'platform',
      storageClasses: {
        allowed: ['gp3', 'efs'],
        defaults: [{ class: 'efs', whenAccessModes: ['ReadWriteMany'] }, { class: 'gp3' }],
      },
    });
    const diff = diffPolicySets(
      new Engine({ policies: [current], lookup: state }),
      new Engine({ policies: [proposed], lookup: state }),
      OBJECTS,
    );
    assert.deepEqual(
      diff.objects.map((change) => [
        `${change.namespace}/${change.name}`,
        change.newlyFailing.map((verdict) => verdict.rule),
      ]),
      [
        ['team-a/ledger', ['storage-class/allowed']],
        ['team-b/cache', ['storage-class/allowed']],
      ],
    );
    assert.deepEqual(diff.counts, { newlyFailing: 2, newlyPassing: 0, warningsChanged: 0 });
    assert.deepEqual(
      diff.namespaces
        .filter((change) => change.namespace === 'team-a')
        .map((change) => `${change.what}: ${change.before} -> ${change.after}`),
      [
        'default class for ReadWriteMany: gp3 (policy platform) -> efs (policy platform)',
        'default class for ReadWriteMany Block: gp3 (policy platform) -> efs (policy platform)',
      ],
    );
    // Golden: the text a reviewer reads.
    assert.equal(
      formatDiffText(diff).split('\n').slice(0, 2).join('\n'),
      [
        'FAILS   PersistentVolumeClaim team-a/ledger  platform storage-class/allowed: spec.storageClassName: class io2 is not allowed here; use one of gp3, efs',
        'FAILS   PersistentVolumeClaim team-b/cache  platform storage-class/allowed: spec.storageClassName: class io2 is not allowed here; use one of gp3, efs',
      ].join('\n'),
    );
    assert.match(
      formatDiffText(diff),
      /\n2 object\(s\) newly failing, 0 newly passing, 0 with changed warnings; 6 change\(s\) for new objects$/,
    );
    const markdown = formatDiffMarkdown(diff);
    assert.match(markdown, /^### storage-policy diff\n\n\*\*2\*\* object\(s\) newly failing/);
    assert.match(markdown, /\| team-a \| platform \| storage-class\/allowed \| 1 \|/);
    assert.match(
      markdown,
      /#### platform storage-class\/allowed\n\n- `PersistentVolumeClaim team-a\/ledger`: spec\.storageClassName: class io2 is not allowed here/,
    );
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(diff)) as object), [
      'objects',
      'namespaces',
      'costs',
      'counts',
    ]);
    assert.deepEqual(diff.costs, [], 'the same prices: no cost change');
  });
  it('a price change: what the existing claims of each namespace cost a month, now and proposed, in text and markdown', () => {
    const repriced = policy({
      name: 'platform',
      storageClasses: { allowed: ['gp3', 'io2', 'efs'], defaults: [{ class: 'gp3' }] },
      prices: { currency: 'USD', ebs: { gp3: { perGiBMonth: 0.16 } } },
    });
    const diff = diffPolicySets(
      new Engine({ policies: [current], lookup: state }),
      new Engine({ policies: [repriced], lookup: state }),
      OBJECTS,
    );
    // team-a's gp3 claim (10 GiB at 0.08, then 0.16) moves; io2 and EFS keep their prices, so team-b and team-c do not.
    assert.equal(diff.costs.length, 1);
    const [change] = diff.costs;
    assert.equal(change?.namespace, 'team-a');
    assert.equal(
      Math.round((Number.parseFloat(change?.after ?? '') - Number.parseFloat(change?.before ?? '')) * 100),
      80,
    );
    assert.match(formatDiffText(diff), /^COST {4}namespace team-a: claims [0-9.]+ USD -> [0-9.]+ USD a month$/m);
    assert.match(
      formatDiffMarkdown(diff),
      /#### Monthly cost of existing claims\n\n\| namespace \| now \| proposed \|/,
    );
  });
  it('an exclusion: the claims that stop failing; a dated policy shows as changed warnings until its instant', () => {
    const strict = policy({ name: 'platform', storageClasses: { allowed: ['gp3'] } });
    const excluded = policy({
      name: 'platform',
      match: { kinds: ['PersistentVolumeClaim'], excludeNamespaces: ['team-b'] },
      storageClasses: { allowed: ['gp3'] },
    });
    const diff = diffPolicySets(
      new Engine({ policies: [strict], lookup: state }),
      new Engine({ policies: [excluded], lookup: state }),
      OBJECTS,
    );
    assert.deepEqual(
      diff.objects.map((change) => `${change.namespace}/${change.name}`),
      ['team-b/cache'],
    );
    assert.deepEqual(diff.counts, { newlyFailing: 0, newlyPassing: 1, warningsChanged: 0 });
    const dated = policy({
      name: 'platform',
      storageClasses: { allowed: ['gp3'] },
      enforceFrom: '2099-01-01T00:00:00Z',
    });
    const deferred = diffPolicySets(
      new Engine({ policies: [current], lookup: state }),
      new Engine({ policies: [dated], lookup: state }),
      OBJECTS,
    );
    assert.deepEqual(deferred.counts, { newlyFailing: 0, newlyPassing: 0, warningsChanged: 3 });
  });
  it('markdown stays under a pull-request comment: the first 20 per rule, the rest collapsed, then cut with a note', () => {
    const many = Array.from({ length: 3000 }, (_, index) =>
      claimIn(`ns-${index % 7}`, `claim-${index}-${'x'.repeat(40)}`, 'io2'),
    );
    const manyState = cluster(...many);
    const diff = diffPolicySets(
      new Engine({ policies: [current], lookup: manyState }),
      new Engine({ policies: [policy({ name: 'platform', storageClasses: { allowed: ['gp3'] } })], lookup: manyState }),
      many,
    );
    const markdown = formatDiffMarkdown(diff);
    assert.ok(markdown.length <= MAX_MARKDOWN_CHARACTERS, `${markdown.length} characters`);
    assert.match(markdown, /<details><summary>2980 more<\/summary>/);
    assert.match(
      markdown,
      /_Cut to fit a pull-request comment: run `storage-policy diff -o text` for everything\._\n$/,
    );
  });

  describe('the CLI, with --base-ref in a throwaway git repository', () => {
    let repo: string;
    before(async () => {
      repo = await mkdtemp(join(tmpdir(), 'diff-repo-'));
      const policyFile = (allowed: string) => `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: platform}
spec:
  match: {kinds: [PersistentVolumeClaim]}
  storageClasses: {allowed: [${allowed}]}
`;
      const git = (...args: string[]) =>
        assert.equal(
          spawnSync('git', ['-C', repo, '-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args]).status,
          0,
          args.join(' '),
        );
      git('init', '-q');
      await mkdir(join(repo, 'policies'));
      await writeFile(join(repo, 'policies', 'platform.yaml'), policyFile('gp3, io2'));
      await writeFile(join(repo, 'cluster.yaml'), OBJECTS.map((object) => JSON.stringify(object)).join('\n---\n'));
      git('add', '.');
      git('commit', '-q', '-m', 'policies');
      await writeFile(join(repo, 'policies', 'platform.yaml'), policyFile('gp3'));
    });
    after(() => rm(repo, { recursive: true, force: true }));
    const diff = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [CLI, 'diff', '--policies', join(repo, 'policies'), '--inventory', join(repo, 'cluster.yaml'), ...args],
        { encoding: 'utf8' },
      );

    it('names what the working copy newly fails against HEAD, exit 1; against itself nothing, exit 0; bad input exit 2', () => {
      const changed = diff('--base-ref', 'HEAD');
      assert.equal(changed.status, 1, changed.stderr);
      assert.match(changed.stdout, /FAILS {3}PersistentVolumeClaim team-a\/ledger {2}platform storage-class\/allowed/);
      assert.match(changed.stdout, /FAILS {3}PersistentVolumeClaim team-b\/cache/);
      assert.equal(diff('--base', join(repo, 'policies')).status, 0);
      assert.equal(diff('--base-ref', 'no-such-ref').status, 2);
      assert.equal(diff().status, 2, 'no base');
      const markdown = diff('--base-ref', 'HEAD', '-o', 'markdown');
      assert.match(markdown.stdout, /^### storage-policy diff/);
    });
  });
});
