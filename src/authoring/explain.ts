import { matchByName, matchBySelector } from '../engine/matching.js';
import { isClusterScoped, type GovernedKind } from '../core/storage.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import { globMatches } from '../core/selectors.js';
import { exemptionNote, isActive } from '../engine/exceptions.js';
import { byPrecedence, type Policy, type PolicyException } from '../policy/model.js';

interface Explanation {
  policy: Policy;
  governs: boolean;
  /** Why it does or does not govern, one clause each. */
  reasons: string[];
  /** What it does there, one line per family, when it governs. */
  effects: string[];
}

function matchReasons(policy: Policy, kind: GovernedKind, namespace: string, lookup: ClusterLookup): { governs: boolean; reasons: string[] } {
  const byName = matchByName(policy, kind, namespace);
  if (!byName.governs || isClusterScoped(kind)) return { governs: byName.governs, reasons: [byName.reason] };
  const reasons = [`match.kinds includes ${kind}`, byName.reason];
  if (!policy.match.namespaceSelector) return { governs: true, reasons };
  const bySelector = matchBySelector(policy, namespace, lookup.namespaceLabels(namespace));
  return { governs: bySelector.governs, reasons: [...reasons, bySelector.reason] };
}

function effectsOf(policy: Policy, kind: GovernedKind, governing: Policy[]): string[] {
  const effects: string[] = [];
  const supplies = (has: (candidate: Policy) => boolean): string =>
    governing.find(has) === policy ? 'this policy supplies it' : `overridden by ${governing.find(has)?.name ?? 'another policy'} (precedence)`;
  const classes = policy.storageClasses;
  if (kind !== 'StorageClass' && classes?.defaults) {
    const choices = classes.defaults.map(
      (choice) => `${choice.whenAccessModes ? `${choice.whenAccessModes.join('/')} -> ` : choice.whenVolumeMode ? `${choice.whenVolumeMode} -> ` : 'otherwise -> '}${choice.class}`,
    );
    effects.push(`default class: ${choices.join(', ')} (${supplies((candidate) => candidate.storageClasses?.defaults !== undefined)})`);
  }
  if (kind !== 'StorageClass' && classes?.allowed) effects.push(`allowed classes: ${classes.allowed.join(', ')}`);
  if (kind !== 'StorageClass' && classes?.denied) effects.push(`denied classes: ${classes.denied.join(', ')}`);
  if (kind !== 'StorageClass' && classes?.required) effects.push('a class is required (claims that end with none are denied)');
  if (kind !== 'StorageClass' && classes) effects.push(`storageClassName "": ${classes.emptyClass ?? 'allow'}; a class the cluster lacks: ${classes.missingClass ?? 'warn'}`);
  if (kind === 'PersistentVolumeClaim' && classes?.fallback) effects.push(`a forbidden class is rewritten to ${classes.fallback} on CREATE`);
  const modes = policy.accessModes;
  if (kind !== 'StorageClass' && (modes?.allowed || modes?.denied))
    effects.push(`access modes: ${modes.allowed ? `only ${modes.allowed.join(', ')}` : ''}${modes.allowed && modes.denied ? '; ' : ''}${modes.denied ? `never ${modes.denied.join(', ')}` : ''}`);
  for (const requirement of kind !== 'StorageClass' ? (policy.claimMetadata?.required ?? []) : []) {
    const key = requirement.label !== undefined ? `label ${requirement.label}` : `annotation ${requirement.annotation ?? ''}`;
    effects.push(
      `claims need the ${key}${requirement.pattern ? ` matching ${requirement.pattern}` : ''}${requirement.ifPresent ? ' (when present)' : ''}${requirement.whenClasses ? ` on ${requirement.whenClasses.join(', ')}` : ''}`,
    );
  }
  const required = policy.classRequirements;
  if (kind === 'StorageClass' && required) {
    const parts = [
      required.reclaimPolicies ? `reclaimPolicy ${required.reclaimPolicies.join('/')}` : '',
      required.allowVolumeExpansion ? `volume expansion ${required.allowVolumeExpansion}` : '',
      required.volumeBindingMode ? `volumeBindingMode ${required.volumeBindingMode}` : '',
      required.provisioners ? `provisioners ${required.provisioners.join(', ')}` : '',
      ...(required.parameters ?? []).map(
        (parameter) =>
          `parameter ${parameter.name}${parameter.values ? ` in ${parameter.values.join('/')}` : ''}${parameter.pattern ? ` matching ${parameter.pattern}` : ''}${parameter.provisioner ? ` (${parameter.provisioner})` : ''}`,
      ),
      required.mountOptions ? `mount options ${required.mountOptions.join(', ')}` : '',
    ].filter(Boolean);
    effects.push(`StorageClasses need: ${parts.join('; ')}`);
  }
  if (kind === 'StorageClass' && classes?.singleClusterDefault) effects.push('at most one cluster default StorageClass');
  if (kind !== 'StorageClass' && policy.accessModes) effects.push(`access modes checked against the provisioner; unknown provisioner: ${policy.accessModes.unknownProvisioner ?? 'warn'}`);
  if (policy.zones) {
    const extra =
      kind === 'StatefulSet' && policy.zones.pinStatefulSets !== false
        ? `; pods pinned by nodeAffinity (${supplies((candidate) => candidate.zones !== undefined)})`
        : kind === 'StorageClass' && policy.zones.addAllowedTopologies
          ? '; allowedTopologies added on CREATE'
          : '';
    effects.push(`zones: ${policy.zones.allowed.join(', ')}${extra}`);
  }
  if (policy.iops) {
    const limits = [policy.iops.maxPerVolume ? `max ${policy.iops.maxPerVolume} per volume` : '', policy.iops.maxPerNamespace ? `max ${policy.iops.maxPerNamespace} per namespace` : ''].filter(
      Boolean,
    );
    effects.push(`EBS IOPS: driver limits checked${limits.length ? `, ${limits.join(', ')}` : ''}${kind !== 'StorageClass' && policy.iops.annotateQuote !== false ? ', quote annotated' : ''}`);
  }
  if (kind !== 'StorageClass' && policy.capacity) effects.push(`size: ${policy.capacity.min ?? '0'} to ${policy.capacity.max ?? 'unbounded'}`);
  const overrides = Object.entries(policy.rules).map(([rule, action]) => `${rule}=${action}`);
  effects.push(`action: ${policy.action}${overrides.length ? ` (overrides: ${overrides.join(', ')})` : ''}; lookupFailure: ${policy.lookupFailure}`);
  return effects;
}

/** Which policies govern objects of a kind in a namespace, why, and what each does there. */
export function explain(policies: readonly Policy[], namespace: string, kind: GovernedKind, lookup: ClusterLookup): Explanation[] {
  const ordered = [...policies].sort(byPrecedence);
  const matched = ordered.map((policy) => ({ policy, ...matchReasons(policy, kind, namespace, lookup) }));
  const governing = matched.filter((entry) => entry.governs).map((entry) => entry.policy);
  return matched.map((entry) => ({ ...entry, effects: entry.governs ? effectsOf(entry.policy, kind, governing) : [] }));
}

/** The active exceptions that may cover objects of a kind in a namespace (by kind and namespace; names and labels decide per object). */
export function exceptionsFor(exceptions: readonly PolicyException[], namespace: string, kind: GovernedKind, now: number): string[] {
  return exceptions
    .filter((exception) => isActive(exception, now) && (!exception.match.kinds || exception.match.kinds.includes(kind)))
    .filter((exception) => (isClusterScoped(kind) ? !exception.match.namespaces : !exception.match.namespaces || exception.match.namespaces.some((pattern) => globMatches(pattern, namespace))))
    .map((exception) => {
      const what = exception.policies.map((entry) => `${entry.name}${entry.rules ? ` (${entry.rules.join(', ')})` : ' (every rule)'}`).join('; ');
      const which = [exception.match.names ? `names ${exception.match.names.join(', ')}` : '', exception.match.labelSelector ? 'a label selector' : ''].filter(Boolean).join(' and ');
      return `${exemptionNote(exception, now)}: ${what}${which ? `, for ${which}` : ''}`;
    });
}

export function formatExplanation(explanations: Explanation[], namespace: string, kind: GovernedKind, exceptions: string[] = []): string {
  const lines = [
    `${kind} in ${kind === 'StorageClass' ? 'the cluster' : `namespace ${namespace}`}: ${explanations.filter((entry) => entry.governs).length} of ${explanations.length} policies govern (highest precedence first)`,
  ];
  for (const entry of explanations) {
    lines.push(
      '',
      `${entry.governs ? 'GOVERNS' : 'skips  '} ${entry.policy.name} (priority ${entry.policy.priority}, ${entry.policy.file})${entry.policy.owner ? `, owner ${entry.policy.owner}` : ''}`,
    );
    entry.reasons.forEach((reason) => lines.push(`  - ${reason}`));
    entry.effects.forEach((effect) => lines.push(`  * ${effect}`));
  }
  if (exceptions.length > 0) lines.push('', `${exceptions.length} exception(s) may apply here:`, ...exceptions.map((exception) => `  ! ${exception}`));
  return lines.join('\n');
}
