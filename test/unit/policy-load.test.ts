import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lintPolicies } from '../../src/authoring/lint.js';
import { BUNDLED_POLICIES_DIR, formatProblem, PolicyLoadError } from '../../src/policy/load.js';
import { loadPolicies, parsePolicies } from '../../src/engine/policies.js';
import { policy } from '../helpers.js';

const header = 'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\n';

describe('policy loading', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'policies-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the bundled set', async () => {
    const set = await loadPolicies(BUNDLED_POLICIES_DIR);
    assert.deepEqual(set.policies.map((loaded) => loaded.name).sort(), [
      'platform-storage',
      'static-volumes',
      'storage-class-guardrails',
    ]);
    assert.deepEqual(lintPolicies(set.policies), []);
  });
  it('reports an unknown field with file, line, column and field path', () => {
    const text = `${header}metadata:\n  name: p\nspec:\n  match: {}\n  zones:\n    allowed: [a]\n    alowed: [b]\n`;
    const { problems } = parsePolicies(text, 'p.yaml');
    assert.equal(problems.length, 1);
    assert.equal(
      formatProblem(problems[0] ?? { file: '', message: '' }),
      'p.yaml:9:5: spec.zones.alowed: unknown field (check the spelling against the schema)',
    );
  });
  it('reports wrong types and enum values at their position', () => {
    const text = `${header}metadata:\n  name: p\nspec:\n  action: block\n  match: {}\n  iops:\n    maxPerVolume: "lots"\n`;
    const messages = parsePolicies(text, 'p.yaml').problems.map(formatProblem);
    assert.deepEqual(messages, [
      'p.yaml:6:11: spec.action: must be one of "deny", "warn", "audit"',
      'p.yaml:9:19: spec.iops.maxPerVolume: must be integer',
    ]);
  });
  it('reports YAML syntax errors with their position', () => {
    const { problems } = parsePolicies(`${header}metadata:\n  name: [unclosed\n`, 'p.yaml');
    assert.equal(problems.length, 1);
    assert.ok((problems[0]?.line ?? 0) >= 4, 'the position is where the parser found the unclosed flow sequence');
    assert.match(problems[0]?.message ?? '', /flow/i);
  });
  it('rejects unknown rule ids in rules', () => {
    const { problems } = parsePolicies(
      `${header}metadata:\n  name: p\nspec:\n  match: {}\n  rules:\n    iops/nope: warn\n`,
      'p.yaml',
    );
    assert.match(
      formatProblem(problems[0] ?? { file: '', message: '' }),
      /spec\.rules\[iops\/nope\]: is not a known rule id/,
    );
  });
  it('rejects a default class that the allowed list would deny, and min above max', () => {
    const text = `${header}metadata:\n  name: p\nspec:\n  match: {}\n  storageClasses:\n    defaults: [{class: slow}]\n    allowed: [fast]\n  capacity: {min: 2Gi, max: 1Gi}\n`;
    const messages = parsePolicies(text, 'p.yaml').problems.map((problem) => problem.message);
    assert.equal(messages.length, 2);
  });
  it("reports each family's own checks at the field they concern (the families own them: engine/policies.ts)", () => {
    const text = [
      `${header}metadata:\n  name: p\nspec:\n  match: {}`,
      '  enforceFrom: "2026-13-45T99:00:00Z"',
      '  storageClasses: {allowed: [gp3], fallback: io1}',
      '  volumeAttributesClasses: {allowed: [fast], default: slow}',
      '  claimMetadata:',
      '    required: [{label: team, annotation: owner}, {label: cost-center, pattern: "("}]',
      '  classRequirements:',
      '    parameters: [{name: type, pattern: "["}]',
      '  providerLimits:',
      '    ebs: {gp3: {minIops: 5000, maxIops: 3000}}',
      '',
    ].join('\n');
    assert.deepEqual(parsePolicies(text, 'p.yaml').problems.map(formatProblem).sort(), [
      'p.yaml:11:16: spec.claimMetadata.required[0]: name exactly one of label or annotation',
      'p.yaml:11:80: spec.claimMetadata.required[1].pattern: ( is not a valid regular expression',
      'p.yaml:13:40: spec.classRequirements.parameters[0].pattern: [ is not a valid regular expression',
      'p.yaml:15:26: spec.providerLimits.ebs.gp3.minIops: 5000 is larger than maxIops 3000',
      'p.yaml:7:16: spec.enforceFrom: 2026-13-45T99:00:00Z is not a date and time',
      'p.yaml:8:46: spec.storageClasses.fallback: fallback class "io1" is not in storageClasses.allowed (gp3): every rewritten claim would be denied',
      'p.yaml:9:55: spec.volumeAttributesClasses.default: default "slow" is not in volumeAttributesClasses.allowed (fast): every defaulted claim would be denied',
    ]);
  });
  it('rejects a static volume size range whose min is above its max, at its field', () => {
    const text = `${header}metadata:\n  name: p\nspec:\n  match: {kinds: [PersistentVolume]}\n  persistentVolumes:\n    capacity: {min: 2Ti, max: 1Ti}\n`;
    assert.deepEqual(parsePolicies(text, 'p.yaml').problems.map(formatProblem), [
      'p.yaml:8:21: spec.persistentVolumes.capacity.min: 2Ti is larger than max 1Ti',
    ]);
    const fine = text.replace('min: 2Ti', 'min: 1Gi');
    assert.deepEqual(parsePolicies(fine, 'p.yaml').problems, []);
  });
  it('rejects the whole set on any problem, and duplicate names across files', async () => {
    const good = `${header}metadata:\n  name: same\nspec:\n  match: {}\n`;
    await writeFile(join(dir, 'a.yaml'), good);
    await writeFile(join(dir, 'b.yaml'), good);
    await assert.rejects(
      loadPolicies(dir),
      (error: unknown) => error instanceof PolicyLoadError && /already defined/.test(error.message),
    );
  });
  it('rejects an empty or missing folder with a clear message', async () => {
    await assert.rejects(loadPolicies(join(dir, 'missing')), /cannot read the policy folder/);
  });
});

describe('policy lint', () => {
  const withDefault = (name: string, cls: string, match = {}) =>
    policy({
      name,
      match: { kinds: ['PersistentVolumeClaim'], ...match },
      storageClasses: { defaults: [{ class: cls }] },
    });
  it('flags two policies that may default the same claims differently', () => {
    assert.equal(
      lintPolicies([withDefault('a', 'gp3'), withDefault('b', 'io2', { namespaces: ['team-a'] })]).length,
      1,
    );
    assert.equal(
      lintPolicies([
        withDefault('a', 'gp3', { namespaces: ['team-*'] }),
        withDefault('b', 'io2', { namespaces: ['team-b*'] }),
      ]).length,
      1,
    );
  });
  it('accepts disjoint matches and identical defaults', () => {
    assert.deepEqual(
      lintPolicies([
        withDefault('a', 'gp3', { namespaces: ['team-a'] }),
        withDefault('b', 'io2', { namespaces: ['team-b'] }),
      ]),
      [],
    );
    assert.deepEqual(
      lintPolicies([
        withDefault('a', 'gp3', { excludeNamespaces: ['team-b'] }),
        withDefault('b', 'io2', { namespaces: ['team-b'] }),
      ]),
      [],
    );
    assert.deepEqual(lintPolicies([withDefault('a', 'gp3'), withDefault('b', 'gp3')]), []);
  });
});
