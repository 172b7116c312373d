import { setAt } from '../core/patch.js';
import { claimPath, DEFAULT_CLASS_ANNOTATION, BETA_DEFAULT_CLASS_ANNOTATION, pickClusterDefault, readStorageClass, type Claim } from '../core/storage.js';
import { stringMapAt } from '../core/json.js';
import { emptyResult, type RuleContext, type RuleFamily, type RuleResult } from '../engine/types.js';
import type { DefaultClassChoice, Policy } from '../policy/model.js';
import { classFieldPath, listOf, lookupFailure } from './common.js';

function choiceApplies(choice: DefaultClassChoice, claim: Claim): boolean {
  if (choice.whenVolumeMode && choice.whenVolumeMode !== claim.volumeMode) return false;
  if (choice.whenAccessModes && !choice.whenAccessModes.some((mode) => claim.accessModes.includes(mode))) return false;
  return true;
}

/** The default for a claim: the first choice that applies, from the first policy (precedence) that has one. */
export function defaultClassFor(claim: Claim, policies: Policy[]): { policy: Policy; choice: DefaultClassChoice } | undefined {
  for (const policy of policies) {
    const choice = policy.storageClasses?.defaults?.find((candidate) => choiceApplies(candidate, claim));
    if (choice) return { policy, choice };
  }
  return undefined;
}

function describeChoice(choice: DefaultClassChoice): string {
  const conditions = [
    choice.whenAccessModes ? `claims asking for ${listOf(choice.whenAccessModes)}` : undefined,
    choice.whenVolumeMode ? `volumeMode ${choice.whenVolumeMode}` : undefined,
  ].filter((part) => part !== undefined);
  return conditions.length > 0 ? ` for ${conditions.join(' with ')}` : '';
}

function evaluateClaims(context: RuleContext): RuleResult {
  const result = emptyResult();
  for (const claim of context.claims) {
    // Only a claim with no class at all is defaulted: "" asks for no dynamic provisioning, and the
    // legacy annotation is a class choice. Templates are immutable, so only on CREATE.
    if (claim.classSource === 'unset' && context.operation === 'CREATE') {
      const picked = defaultClassFor(claim, context.policies);
      if (picked) {
        result.mutations.push({
          rule: 'storage-class/default',
          policy: picked.policy,
          patch: [setAt(context.object, [...claim.root, 'spec', 'storageClassName'], picked.choice.class)],
          note: `${claimPath(claim, 'spec', 'storageClassName')} set to ${picked.choice.class} (default${describeChoice(picked.choice)})`,
        });
      }
    }
    if (!claim.className) continue;
    for (const policy of context.policies) {
      const allowed = policy.storageClasses?.allowed;
      if (!allowed || allowed.includes(claim.className)) continue;
      result.findings.push({
        rule: 'storage-class/allowed',
        policy,
        path: classFieldPath(claim),
        message: `class ${claim.className} is not allowed here; use one of ${listOf(allowed)}`,
        severity: 'violation',
      });
    }
  }
  return result;
}

function evaluateStorageClass(context: RuleContext): RuleResult {
  const result = emptyResult();
  const storageClass = readStorageClass(context.object);
  if (!storageClass.isDefault) return result;
  const annotations = stringMapAt(context.object, 'metadata', 'annotations');
  const annotation = annotations[DEFAULT_CLASS_ANNOTATION] === 'true' ? DEFAULT_CLASS_ANNOTATION : BETA_DEFAULT_CLASS_ANNOTATION;
  const path = `metadata.annotations[${annotation}]`;
  for (const policy of context.policies) {
    if (!policy.storageClasses?.singleClusterDefault) continue;
    const classes = context.lookup.storageClasses();
    if (!classes.known) {
      result.findings.push(...lookupFailure(policy, path, 'single cluster default', classes.reason));
      continue;
    }
    const others = classes.value.filter((other) => other.isDefault && other.name !== storageClass.name);
    const current = pickClusterDefault(others);
    if (!current) continue;
    const already = others.length === 1 ? `${current.name} is already the cluster default` : `${listOf(others.map((other) => other.name))} are already defaults (the API server uses ${current.name}, the newest)`;
    result.findings.push({
      rule: 'storage-class/single-default',
      policy,
      path,
      message: `${already}; set ${annotation} to "false" on ${others.length === 1 ? 'it' : 'them'} first, or leave this class non-default`,
      severity: 'violation',
    });
  }
  return result;
}

export const storageClassFamily: RuleFamily = {
  name: 'storage-class',
  mutates: true,
  evaluate: (context) => {
    if (context.kind !== 'StorageClass') return evaluateClaims(context);
    return context.phase === 'validate' ? evaluateStorageClass(context) : emptyResult();
  },
};
