import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { JsonObject } from '../core/json.js';
import { compileFloor, type Floor } from '../floor/admission-policies.js';
import { loadInventory } from '../lookup/inventory.js';
import { BUNDLED_POLICIES_DIR } from '../policy/load.js';
import { loadPolicies } from '../engine/policies.js';
import type { CommandOutput } from './authoring.js';
import { clockOf } from './authoring.js';
import { EXIT, listOption, stringOption, UsageError, type OptionSpec, type ParsedOptions } from './options.js';

const GENERATE_TARGETS = ['admission-policies'] as const;

export const GENERATE_OPTIONS: OptionSpec[] = [
  {
    name: 'policies',
    type: 'string',
    env: 'POLICIES_DIR',
    default: BUNDLED_POLICIES_DIR,
    help: 'folder of policy files',
  },
  {
    name: 'kubernetes-version',
    type: 'string',
    default: 'v1.37',
    help: 'the API server the objects are for: MutatingAdmissionPolicies (the namespace default class) from v1.36',
  },
  {
    name: 'static',
    type: 'boolean',
    help: 'names ending in .static.k8s.io, written to validating/ and mutating/ under --out for the API server’s staticManifestsDir (manifest-based admission, beta in v1.37)',
  },
  { name: 'out', type: 'string', help: 'write the files here (default: print the objects)' },
  {
    name: 'inventory',
    type: 'string',
    multiple: true,
    help: 'StorageClasses to compile the provisioner facts for (RWX on EBS, ...): the classes policies name',
  },
  {
    name: 'exclude-namespaces',
    type: 'string',
    multiple: true,
    default: 'kube-system,storage-policy-webhook',
    help: 'namespaces the webhook is never sent (kube-system, its own, EXCLUDE_NAMESPACES): the floor leaves them out too',
  },
  {
    name: 'now',
    type: 'string',
    help: 'compile as at this RFC 3339 instant (which exceptions are active, whether enforceFrom has passed)',
  },
];

function minorOf(version: string): number {
  const match = /^v?1\.(\d+)(?:\.\d+)?$/.exec(version);
  if (!match?.[1]) throw new UsageError(`--kubernetes-version must look like v1.37, not ${version}`);
  const minor = Number(match[1]);
  if (minor < 30) throw new UsageError('ValidatingAdmissionPolicy v1 needs Kubernetes v1.30 or later');
  return minor;
}

function documents(objects: JsonObject[]): string {
  return objects.map((object) => stringify(object, { lineWidth: 0 })).join('---\n');
}

function report(floor: Floor): string[] {
  return [
    `${floor.validating.length / 2} ValidatingAdmissionPolicies, ${floor.mutating.length / 2} MutatingAdmissionPolicies, each with its binding`,
    ...(floor.uncompiled.length > 0 ? ['Not in the floor (the webhook still judges them):'] : []),
    ...floor.uncompiled.map((entry) => `  ${entry.policy}: ${entry.what}: ${entry.reason}`),
  ];
}

/** `storage-policy generate admission-policies`: the policies' lookup-free part as admission policies the API server runs. */
export async function generateCommand(values: ParsedOptions, positionals: string[]): Promise<CommandOutput> {
  const target = positionals[0];
  if (target !== 'admission-policies')
    throw new UsageError(`generate needs what to generate: ${GENERATE_TARGETS.join(', ')}`);
  const minor = minorOf(stringOption(values, 'kubernetes-version') ?? 'v1.37');
  const isStatic = values['static'] === true;
  if (isStatic && minor < 36)
    throw new UsageError('--static needs Kubernetes v1.36 or later (manifest-based admission)');
  const { policies, exceptions } = await loadPolicies(stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR);
  const inventory = listOption(values, 'inventory');
  const classes = inventory.length > 0 ? (await loadInventory(inventory)).storageClasses() : undefined;
  const floor = compileFloor(policies, exceptions, {
    kubernetesMinor: minor,
    static: isStatic,
    classes: classes?.known ? classes.value : undefined,
    excludedNamespaces: listOption(values, 'exclude-namespaces')
      .flatMap((entry) => entry.split(','))
      .filter(Boolean),
    now: (clockOf(values) ?? Date.now)(),
  });
  const out = stringOption(values, 'out');
  if (!out) {
    const header = report(floor).map((line) => `# ${line}`);
    return {
      code: EXIT.ok,
      stdout: [...header, documents([...floor.validating, ...floor.mutating])].join('\n'),
      stderr: '',
    };
  }
  const files: Array<[string, JsonObject[]]> = isStatic
    ? [
        [join(out, 'validating', 'storage-policy.yaml'), floor.validating],
        [join(out, 'mutating', 'storage-policy.yaml'), floor.mutating],
      ]
    : [[join(out, 'admission-policies.yaml'), [...floor.validating, ...floor.mutating]]];
  const written: string[] = [];
  for (const [file, objects] of files) {
    if (objects.length === 0) continue;
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, documents(objects));
    written.push(file);
  }
  return {
    code: EXIT.ok,
    stdout: [...written.map((file) => `wrote ${file}`), ...report(floor)].join('\n'),
    stderr: '',
  };
}
