import { parameterKey, parameterValue } from '../core/capabilities.js';
import { arrayAt, stringAt, stringsOf } from '../core/json.js';
import { fieldPath } from '../core/patch.js';
import { readStorageClass } from '../core/storage.js';
import { type GovernedKind } from '../core/kinds.js';
import type { ParameterRequirement, Policy, PolicyProblem } from '../policy/model.js';
import { listOf, matchesWhole, patternProblems, violation } from './common.js';
import type { Finding, RuleContext, RuleFamily } from './contract.js';

// What a StorageClass must look like: reclaim policy, expansion, binding mode, provisioner, parameters (EBS
// encrypted: "true", a kmsKeyId pattern) and mount options. Fields left out get the API server's defaults
// (reclaimPolicy Delete, volumeBindingMode Immediate), so a class is judged as it will be stored.

function parameterFinding(
  policy: Policy,
  provisioner: string,
  parameters: Record<string, string>,
  requirement: ParameterRequirement,
): Finding | undefined {
  if (requirement.provisioner !== undefined && requirement.provisioner !== provisioner) return undefined;
  const path = fieldPath('parameters', parameterKey(parameters, requirement.name) ?? requirement.name);
  const value = parameterValue(parameters, requirement.name);
  const expected = requirement.values
    ? `one of ${listOf(requirement.values.map((entry) => JSON.stringify(entry)))}`
    : requirement.pattern
      ? `a value matching ${requirement.pattern}`
      : 'a value';
  if (value === undefined) {
    if (requirement.optional) return undefined;
    return violation(
      'class-requirements/parameter',
      policy,
      path,
      `${requirement.name} is required${requirement.provisioner ? ` for ${requirement.provisioner}` : ''}: set it to ${expected}`,
    );
  }
  const valid =
    (!requirement.values || requirement.values.includes(value)) &&
    (requirement.pattern === undefined || matchesWhole(requirement.pattern, value));
  return valid
    ? undefined
    : violation(
        'class-requirements/parameter',
        policy,
        path,
        `${JSON.stringify(value)} is not allowed; use ${expected}`,
      );
}

function classFindings(context: RuleContext, policy: Policy): Finding[] {
  const settings = policy.classRequirements;
  if (!settings) return [];
  const storageClass = readStorageClass(context.object);
  const findings: Finding[] = [];
  const reclaimPolicy = stringAt(context.object, 'reclaimPolicy') ?? 'Delete';
  if (settings.reclaimPolicies && !(settings.reclaimPolicies as string[]).includes(reclaimPolicy)) {
    findings.push(
      violation(
        'class-requirements/reclaim-policy',
        policy,
        'reclaimPolicy',
        `reclaimPolicy ${reclaimPolicy} is not allowed; use ${listOf(settings.reclaimPolicies)}`,
      ),
    );
  }
  if (settings.allowVolumeExpansion === 'required' && !storageClass.allowVolumeExpansion) {
    findings.push(
      violation(
        'class-requirements/volume-expansion',
        policy,
        'allowVolumeExpansion',
        'claims of this class must be able to grow: set allowVolumeExpansion: true',
      ),
    );
  }
  if (settings.allowVolumeExpansion === 'forbidden' && storageClass.allowVolumeExpansion) {
    findings.push(
      violation(
        'class-requirements/volume-expansion',
        policy,
        'allowVolumeExpansion',
        'volume expansion is not allowed here: remove allowVolumeExpansion or set it to false',
      ),
    );
  }
  if (settings.volumeBindingMode && storageClass.volumeBindingMode !== settings.volumeBindingMode) {
    findings.push(
      violation(
        'class-requirements/binding-mode',
        policy,
        'volumeBindingMode',
        `volumeBindingMode ${storageClass.volumeBindingMode} is not allowed; use ${settings.volumeBindingMode}`,
      ),
    );
  }
  if (settings.provisioners && !settings.provisioners.includes(storageClass.provisioner)) {
    findings.push(
      violation(
        'class-requirements/provisioner',
        policy,
        'provisioner',
        `provisioner ${storageClass.provisioner} is not allowed; use ${listOf(settings.provisioners)}`,
      ),
    );
  }
  for (const requirement of settings.parameters ?? []) {
    const finding = parameterFinding(policy, storageClass.provisioner, storageClass.parameters, requirement);
    if (finding) findings.push(finding);
  }
  if (settings.mountOptions) {
    stringsOf(arrayAt(context.object, 'mountOptions')).forEach((option, index) => {
      if (settings.mountOptions?.includes(option)) return;
      findings.push(
        violation(
          'class-requirements/mount-options',
          policy,
          fieldPath('mountOptions', index),
          `mount option ${option} is not allowed; use ${listOf(settings.mountOptions ?? [])}`,
        ),
      );
    });
  }
  return findings;
}

function validateStorageClass(context: RuleContext): Finding[] {
  return context.policies.flatMap((policy) => classFindings(context, policy));
}

function describe(policy: Policy, _kind: GovernedKind): string[] {
  const required = policy.classRequirements;
  if (!required) return [];
  const parts = [
    required.reclaimPolicies ? `reclaimPolicy ${required.reclaimPolicies.join('/')}` : '',
    required.allowVolumeExpansion ? `volume expansion ${required.allowVolumeExpansion}` : '',
    required.volumeBindingMode ? `volumeBindingMode ${required.volumeBindingMode}` : '',
    required.provisioners ? `provisioners ${listOf(required.provisioners)}` : '',
    ...(required.parameters ?? []).map((parameter) => {
      const values = parameter.values ? ` in ${parameter.values.join('/')}` : '';
      const pattern = parameter.pattern ? ` matching ${parameter.pattern}` : '';
      return `parameter ${parameter.name}${values}${pattern}${parameter.provisioner ? ` (${parameter.provisioner})` : ''}`;
    }),
    required.mountOptions ? `mount options ${listOf(required.mountOptions)}` : '',
  ].filter(Boolean);
  return [`StorageClasses need: ${parts.join('; ')}`];
}

/** Each parameter's pattern compiles. */
function checkPolicy(policy: Policy): PolicyProblem[] {
  return (policy.classRequirements?.parameters ?? []).flatMap((requirement, index) =>
    patternProblems(requirement.pattern, ['spec', 'classRequirements', 'parameters', index, 'pattern']),
  );
}

export const classRequirementsFamily: RuleFamily = {
  name: 'class-requirements',
  sections: ['classRequirements'],
  ruleIds: [
    'class-requirements/reclaim-policy',
    'class-requirements/volume-expansion',
    'class-requirements/binding-mode',
    'class-requirements/provisioner',
    'class-requirements/parameter',
    'class-requirements/mount-options',
  ],
  factRules: [],
  mutations: [],
  claimFields: [],
  describe,
  validate: { StorageClass: validateStorageClass },
  mutate: {},
  checkPolicy,
  lint: { optInSections: ['classRequirements'] },
};
