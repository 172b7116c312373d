import { parameterValue } from '../core/capabilities.js';
import { arrayAt, stringAt, stringsOf } from '../core/json.js';
import { fieldPath } from '../core/patch.js';
import { readStorageClass } from '../core/storage.js';
import type { ParameterRequirement, Policy } from '../policy/model.js';
import { listOf } from './common.js';
import { emptyResult, type Finding, type RuleContext, type RuleFamily, type RuleResult } from './contract.js';

// What a StorageClass must look like: reclaim policy, expansion, binding mode, provisioner, parameters (EBS
// encrypted: "true", a kmsKeyId pattern) and mount options. Fields left out get the API server's defaults
// (reclaimPolicy Delete, volumeBindingMode Immediate), so a class is judged as it will be stored.

function matchesWhole(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`, 'u').test(value);
}

function parameterFinding(policy: Policy, provisioner: string, parameters: Record<string, string>, requirement: ParameterRequirement): Finding | undefined {
  if (requirement.provisioner !== undefined && requirement.provisioner !== provisioner) return undefined;
  const spelled = Object.keys(parameters).find((key) => key.toLowerCase() === requirement.name.toLowerCase()) ?? requirement.name;
  const path = fieldPath('parameters', spelled);
  const value = parameterValue(parameters, requirement.name);
  const expected = requirement.values ? `one of ${listOf(requirement.values.map((entry) => JSON.stringify(entry)))}` : requirement.pattern ? `a value matching ${requirement.pattern}` : 'a value';
  if (value === undefined) {
    if (requirement.optional) return undefined;
    return {
      rule: 'class-requirements/parameter',
      policy,
      path,
      message: `${requirement.name} is required${requirement.provisioner ? ` for ${requirement.provisioner}` : ''}: set it to ${expected}`,
      severity: 'violation',
    };
  }
  const valid = (!requirement.values || requirement.values.includes(value)) && (requirement.pattern === undefined || matchesWhole(requirement.pattern, value));
  return valid ? undefined : { rule: 'class-requirements/parameter', policy, path, message: `${JSON.stringify(value)} is not allowed; use ${expected}`, severity: 'violation' };
}

function classFindings(context: RuleContext, policy: Policy): Finding[] {
  const settings = policy.classRequirements;
  if (!settings) return [];
  const storageClass = readStorageClass(context.object);
  const findings: Finding[] = [];
  const reclaimPolicy = stringAt(context.object, 'reclaimPolicy') ?? 'Delete';
  if (settings.reclaimPolicies && !(settings.reclaimPolicies as string[]).includes(reclaimPolicy)) {
    findings.push({
      rule: 'class-requirements/reclaim-policy',
      policy,
      path: 'reclaimPolicy',
      message: `reclaimPolicy ${reclaimPolicy} is not allowed; use ${listOf(settings.reclaimPolicies)}`,
      severity: 'violation',
    });
  }
  if (settings.allowVolumeExpansion === 'required' && !storageClass.allowVolumeExpansion) {
    findings.push({
      rule: 'class-requirements/volume-expansion',
      policy,
      path: 'allowVolumeExpansion',
      message: 'claims of this class must be able to grow: set allowVolumeExpansion: true',
      severity: 'violation',
    });
  }
  if (settings.allowVolumeExpansion === 'forbidden' && storageClass.allowVolumeExpansion) {
    findings.push({
      rule: 'class-requirements/volume-expansion',
      policy,
      path: 'allowVolumeExpansion',
      message: 'volume expansion is not allowed here: remove allowVolumeExpansion or set it to false',
      severity: 'violation',
    });
  }
  if (settings.volumeBindingMode && storageClass.volumeBindingMode !== settings.volumeBindingMode) {
    findings.push({
      rule: 'class-requirements/binding-mode',
      policy,
      path: 'volumeBindingMode',
      message: `volumeBindingMode ${storageClass.volumeBindingMode} is not allowed; use ${settings.volumeBindingMode}`,
      severity: 'violation',
    });
  }
  if (settings.provisioners && !settings.provisioners.includes(storageClass.provisioner)) {
    findings.push({
      rule: 'class-requirements/provisioner',
      policy,
      path: 'provisioner',
      message: `provisioner ${storageClass.provisioner} is not allowed; use ${listOf(settings.provisioners)}`,
      severity: 'violation',
    });
  }
  for (const requirement of settings.parameters ?? []) {
    const finding = parameterFinding(policy, storageClass.provisioner, storageClass.parameters, requirement);
    if (finding) findings.push(finding);
  }
  if (settings.mountOptions) {
    stringsOf(arrayAt(context.object, 'mountOptions')).forEach((option, index) => {
      if (settings.mountOptions?.includes(option)) return;
      findings.push({
        rule: 'class-requirements/mount-options',
        policy,
        path: fieldPath('mountOptions', index),
        message: `mount option ${option} is not allowed; use ${listOf(settings.mountOptions ?? [])}`,
        severity: 'violation',
      });
    });
  }
  return findings;
}

function evaluate(context: RuleContext): RuleResult {
  const result = emptyResult();
  if (context.phase === 'mutate' || context.kind !== 'StorageClass') return result;
  for (const policy of context.policies) result.findings.push(...classFindings(context, policy));
  return result;
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
  kinds: ['StorageClass'],
  mutates: false,
  claimFields: [],
  evaluate,
};
