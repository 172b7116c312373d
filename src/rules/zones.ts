import { arrayAt, objectAt, stringAt, stringsOf, stringMapAt, type JsonValue } from '../core/json.js';
import { appendAt, fieldPath, pointer, setAt, type PatchOperation } from '../core/patch.js';
import { readStorageClass } from '../core/storage.js';
import { type GovernedKind } from '../core/kinds.js';
import {
  DEPRECATED_ZONE_LABEL,
  ZONE_LABEL,
  ZONE_TOPOLOGY_KEYS,
  zoneParameterKeys,
  zoneParameters,
  zoneTopologyKeyFor,
  zoneTranslationProblem,
} from '../core/topology.js';
import {
  type ComposedSettings,
  type FamilyLint,
  type Finding,
  type Mutation,
  type RuleContext,
  type RuleFamily,
} from './contract.js';
import type { Policy } from '../policy/model.js';
import {
  advice,
  classFieldPath,
  forClaimKinds,
  intersection,
  listOf,
  lookupFailure,
  supplier,
  violation,
} from './common.js';

const POD_SPEC = ['spec', 'template', 'spec'];
const TERMS = [
  ...POD_SPEC,
  'affinity',
  'nodeAffinity',
  'requiredDuringSchedulingIgnoredDuringExecution',
  'nodeSelectorTerms',
];

function outside(zones: string[], allowed: string[]): string[] {
  return zones.filter((zone) => !allowed.includes(zone));
}

function storageClassFindings(context: RuleContext, policy: Policy, allowed: string[]): Finding[] {
  const findings: Finding[] = [];
  const storageClass = readStorageClass(context.object);
  const untranslatable = zoneTranslationProblem(
    storageClass.provisioner,
    storageClass.parameters,
    arrayAt(context.object, 'allowedTopologies'),
  );
  if (untranslatable) findings.push(violation('zones/class-translation', policy, 'parameters', untranslatable));
  (arrayAt(context.object, 'allowedTopologies') ?? []).forEach((term, termIndex) => {
    (arrayAt(term, 'matchLabelExpressions') ?? []).forEach((expression, expressionIndex) => {
      if (!ZONE_TOPOLOGY_KEYS.has(stringAt(expression, 'key') ?? '')) return;
      stringsOf(arrayAt(expression, 'values')).forEach((zone, valueIndex) => {
        if (allowed.includes(zone)) return;
        findings.push(
          violation(
            'zones/class-topology',
            policy,
            fieldPath('allowedTopologies', termIndex, 'matchLabelExpressions', expressionIndex, 'values', valueIndex),
            `zone ${zone} is outside the allowed zones ${listOf(allowed)}`,
          ),
        );
      });
    });
  });
  const inTree = zoneParameters(storageClass.provisioner, storageClass.parameters);
  const bad = inTree ? outside(inTree.zones, allowed) : [];
  if (inTree && bad.length > 0) {
    findings.push(
      violation(
        'zones/class-topology',
        policy,
        fieldPath('parameters', inTree.key),
        `${bad.map((zone) => JSON.stringify(zone)).join(', ')} outside the allowed zones ${listOf(allowed)}`,
      ),
    );
  }
  if (storageClass.zones === undefined && storageClass.volumeBindingMode === 'Immediate') {
    findings.push(
      violation(
        'zones/unrestricted-immediate',
        policy,
        'volumeBindingMode',
        `Immediate binding with no zone in allowedTopologies may provision outside ${listOf(allowed)}; set volumeBindingMode: WaitForFirstConsumer or allowedTopologies`,
      ),
    );
  }
  return findings;
}

/**
 * A class created without allowedTopologies gets the allowed zones. The field is mutable: on UPDATE a
 * manifest that never had it (server-side apply or replace by its owner) would drop it and widen the
 * class, so what oldObject had is kept. A class restricted by the in-tree `zone`/`zones` parameters is
 * never given allowedTopologies: csi-translation-lib refuses the two together, so the webhook would deny
 * its own patch; its zones are judged in the parameters instead.
 */
function allowedTopologiesMutation(context: RuleContext, policy: Policy, allowed: string[]): Mutation | undefined {
  const existing = arrayAt(context.object, 'allowedTopologies');
  if (existing && existing.length > 0) return undefined;
  const storageClass = readStorageClass(context.object);
  if (zoneParameterKeys(storageClass.provisioner, storageClass.parameters).length > 0) return undefined;
  if (context.operation === 'UPDATE') {
    const previous = arrayAt(context.oldObject, 'allowedTopologies');
    if (!previous || previous.length === 0) return undefined;
    return {
      rule: 'zones/add-allowed-topologies',
      policy,
      patch: [setAt(context.object, ['allowedTopologies'], previous)],
      note: 'allowedTopologies kept as they were (the manifest has none)',
    };
  }
  if (allowed.length === 0) return undefined;
  const key = zoneTopologyKeyFor(storageClass.provisioner);
  return {
    rule: 'zones/add-allowed-topologies',
    policy,
    patch: [setAt(context.object, ['allowedTopologies'], [{ matchLabelExpressions: [{ key, values: allowed }] }])],
    note: `allowedTopologies set to ${key} in ${listOf(allowed)}`,
  };
}

function claimFindings(context: RuleContext, policy: Policy, allowed: string[]): Finding[] {
  const findings: Finding[] = [];
  for (const claim of context.claims) {
    const resolved = claim.storageClass;
    if (resolved.state === 'unknown') {
      findings.push(
        ...lookupFailure(policy, classFieldPath(claim), `zones of class ${resolved.name}`, resolved.reason),
      );
      continue;
    }
    if (resolved.state !== 'found') continue;
    const { info } = resolved;
    if (info.zones !== undefined) {
      const bad = outside(info.zones, allowed);
      if (bad.length > 0) {
        findings.push(
          violation(
            'zones/claim-class',
            policy,
            classFieldPath(claim),
            `class ${info.name} can provision in ${listOf(bad)}, outside the allowed zones ${listOf(allowed)}; use a class restricted to them`,
          ),
        );
      }
    } else if (info.volumeBindingMode === 'Immediate') {
      findings.push(
        violation(
          'zones/claim-class',
          policy,
          classFieldPath(claim),
          `class ${info.name} binds Immediately with no zone restriction and may provision outside ${listOf(allowed)}; use a WaitForFirstConsumer or zone-restricted class`,
        ),
      );
    }
  }
  return findings;
}

interface ZoneRequirement {
  termIndex: number;
  expressionIndex: number;
  values: string[];
}

/** In-expressions on a zone key, per nodeSelectorTerm; terms are ORed, expressions within one ANDed. */
function zoneRequirements(object: JsonValue): { terms: JsonValue[]; requirements: ZoneRequirement[][] } {
  const terms = arrayAt(object, ...TERMS) ?? [];
  const requirements = terms.map((term, termIndex) =>
    (arrayAt(term, 'matchExpressions') ?? []).flatMap((expression, expressionIndex) => {
      const key = stringAt(expression, 'key') ?? '';
      if ((key !== ZONE_LABEL && key !== DEPRECATED_ZONE_LABEL) || stringAt(expression, 'operator') !== 'In') return [];
      return [{ termIndex, expressionIndex, values: stringsOf(arrayAt(expression, 'values')) }];
    }),
  );
  return { terms, requirements };
}

function templateChanged(context: RuleContext): boolean {
  if (context.operation === 'CREATE') return true;
  return (
    JSON.stringify(objectAt(context.oldObject, 'spec', 'template')) !==
    JSON.stringify(objectAt(context.object, 'spec', 'template'))
  );
}

/**
 * Pins the pod template to the allowed zones. On UPDATE only when the user changed the template
 * anyway: a patch to an unchanged template would roll every pod of a StatefulSet that was only scaled.
 */
function pinStatefulSet(context: RuleContext, policy: Policy, allowed: string[]): Mutation[] {
  if (!templateChanged(context)) return [];
  const mutations: Mutation[] = [];
  const nodeSelector = stringMapAt(context.object, ...POD_SPEC, 'nodeSelector');
  const deprecated = nodeSelector[DEPRECATED_ZONE_LABEL];
  const current = nodeSelector[ZONE_LABEL];
  // Pods pinned to a zone outside the allowed ones cannot be fixed by adding a pin (the two would
  // contradict): leave the template as written, and validation denies at the field its owner wrote.
  if ([deprecated, current].some((zone) => zone !== undefined && !allowed.includes(zone))) return [];
  if (deprecated !== undefined && (current === undefined || current === deprecated)) {
    const patch: PatchOperation[] = [];
    if (current === undefined)
      patch.push({ op: 'add', path: pointer(...POD_SPEC, 'nodeSelector', ZONE_LABEL), value: deprecated });
    patch.push({ op: 'remove', path: pointer(...POD_SPEC, 'nodeSelector', DEPRECATED_ZONE_LABEL) });
    mutations.push({
      rule: 'zones/replace-deprecated-label',
      policy,
      patch,
      note: `nodeSelector ${DEPRECATED_ZONE_LABEL} (deprecated) -> ${ZONE_LABEL}`,
    });
  }
  const pinnedZone = current ?? deprecated;
  if (pinnedZone !== undefined && allowed.includes(pinnedZone)) return mutations;

  const expression = { key: ZONE_LABEL, operator: 'In', values: allowed };
  const { terms, requirements } = zoneRequirements(context.object);
  if (terms.length === 0) {
    mutations.push({
      rule: 'zones/pin',
      policy,
      patch: [setAt(context.object, TERMS, [{ matchExpressions: [expression] }])],
      note: `spec.template.spec.affinity: pods pinned to zones ${listOf(allowed)}`,
    });
    return mutations;
  }
  const patch = terms.flatMap((_, termIndex) =>
    (requirements[termIndex] ?? []).length > 0
      ? []
      : [appendAt(context.object, [...TERMS, termIndex, 'matchExpressions'], expression)],
  );
  if (patch.length > 0) {
    mutations.push({
      rule: 'zones/pin',
      policy,
      patch,
      note: `spec.template.spec.affinity: pods pinned to zones ${listOf(allowed)}`,
    });
  }
  return mutations;
}

function podFindings(context: RuleContext, policy: Policy, allowed: string[], pinRequired: boolean): Finding[] {
  const findings: Finding[] = [];
  const nodeSelector = stringMapAt(context.object, ...POD_SPEC, 'nodeSelector');
  for (const key of [ZONE_LABEL, DEPRECATED_ZONE_LABEL]) {
    const zone = nodeSelector[key];
    if (zone !== undefined && !allowed.includes(zone)) {
      findings.push(
        violation(
          'zones/pod-affinity',
          policy,
          fieldPath(...POD_SPEC, 'nodeSelector', key),
          `zone ${zone} is outside the allowed zones ${listOf(allowed)}`,
        ),
      );
    }
  }
  if (nodeSelector[DEPRECATED_ZONE_LABEL] !== undefined) {
    findings.push(
      advice(
        'zones/deprecated-label',
        policy,
        fieldPath(...POD_SPEC, 'nodeSelector', DEPRECATED_ZONE_LABEL),
        `deprecated since 1.17; use ${ZONE_LABEL}`,
      ),
    );
  }
  const { terms, requirements } = zoneRequirements(context.object);
  requirements.forEach((termRequirements) =>
    termRequirements.forEach((requirement) => {
      const bad = outside(requirement.values, allowed);
      if (bad.length === 0) return;
      findings.push(
        violation(
          'zones/pod-affinity',
          policy,
          fieldPath(...TERMS, requirement.termIndex, 'matchExpressions', requirement.expressionIndex, 'values'),
          `${listOf(bad)} outside the allowed zones ${listOf(allowed)}`,
        ),
      );
    }),
  );
  const pinnedBySelector = [nodeSelector[ZONE_LABEL], nodeSelector[DEPRECATED_ZONE_LABEL]].some(
    (zone) => zone !== undefined,
  );
  const everyTermPinned = terms.length > 0 && requirements.every((termRequirements) => termRequirements.length > 0);
  if (pinRequired && !pinnedBySelector && !everyTermPinned) {
    findings.push(
      violation(
        'zones/pod-affinity',
        policy,
        fieldPath(...POD_SPEC, 'affinity'),
        `pods are not pinned to the allowed zones ${listOf(allowed)}; add a required nodeAffinity on ${ZONE_LABEL}`,
      ),
    );
  }
  return findings;
}

/**
 * Pinning pods to zones where the cluster has no node leaves them Pending. Checked only when nodes with
 * zone labels are known: a cluster with none (or a cache without them) may be scaling from zero.
 */
function nodeFindings(context: RuleContext, policy: Policy, allowed: string[]): Finding[] {
  const zones = context.lookup.nodeZones();
  if (!zones.known || zones.value.length === 0 || zones.value.some((zone) => allowed.includes(zone))) return [];
  return [
    violation(
      'zones/no-nodes',
      policy,
      fieldPath(...POD_SPEC, 'affinity'),
      `no node is in the allowed zones ${listOf(allowed)} (nodes are in ${listOf(zones.value)}): the pods would stay Pending`,
    ),
  ];
}

function mutateStorageClass(context: RuleContext): Mutation[] {
  const zones = context.settings.zones;
  const mutation = zones?.addAllowedTopologies
    ? allowedTopologiesMutation(context, zones.policy, zones.allowed)
    : undefined;
  return mutation ? [mutation] : [];
}

function mutateStatefulSet(context: RuleContext): Mutation[] {
  const zones = context.settings.zones;
  // An empty intersection leaves nothing to pin to; validation says which policies disagree.
  if (!zones || !zones.pinStatefulSets || zones.allowed.length === 0) return [];
  return pinStatefulSet(context, zones.policy, zones.allowed);
}

function validateStorageClass(context: RuleContext): Finding[] {
  return context.policies.flatMap((policy) =>
    policy.zones ? storageClassFindings(context, policy, policy.zones.allowed) : [],
  );
}

function validateClaim(context: RuleContext): Finding[] {
  return context.policies.flatMap((policy) =>
    policy.zones ? claimFindings(context, policy, policy.zones.allowed) : [],
  );
}

/**
 * A static volume restricted to zones (required nodeAffinity, or an in-tree volume's zone label) none of which is
 * allowed can serve no pod that runs where the policy lets pods run: claims bound to it leave their pods Pending.
 */
function validateVolume(context: RuleContext): Finding[] {
  const volume = context.volume;
  const zones = volume?.zones;
  if (!volume || volume.provisioned || !zones) return [];
  return context.policies.flatMap((policy) => {
    const allowed = policy.zones?.allowed;
    if (!allowed || zones.some((zone) => allowed.includes(zone))) return [];
    return [
      violation(
        'zones/volume',
        policy,
        volume.zonesPath,
        `the volume is in ${listOf(zones)}, outside the allowed zones ${listOf(allowed)}: no pod here could mount it; restrict it to an allowed zone`,
      ),
    ];
  });
}

function validateStatefulSet(context: RuleContext): Finding[] {
  return context.policies.flatMap((policy) => {
    const settings = policy.zones;
    if (!settings) return [];
    const allowed = settings.allowed;
    const pin = settings.pinStatefulSets !== false;
    return [
      ...claimFindings(context, policy, allowed),
      ...podFindings(context, policy, allowed, pin),
      ...(pin ? nodeFindings(context, policy, allowed) : []),
    ];
  });
}

function describe(policy: Policy, kind: GovernedKind, governing: readonly Policy[]): string[] {
  const zones = policy.zones;
  if (!zones) return [];
  let extra = '';
  if (kind === 'StatefulSet' && zones.pinStatefulSets !== false)
    extra = `; pods pinned by nodeAffinity (${supplier(policy, governing, (candidate) => candidate.zones !== undefined)})`;
  if (kind === 'StorageClass' && zones.addAllowedTopologies) extra = '; allowedTopologies added on CREATE';
  if (kind === 'PersistentVolume') extra = '; a static volume must reach one of them';
  return [`zones: ${listOf(zones.allowed)}${extra}`];
}

/**
 * The zones every zone policy allows (an intersection: pods are pinned to it, a class gets allowedTopologies of it),
 * credited to the highest-precedence zone policy; pinStatefulSets and addAllowedTopologies are on when any wants them.
 */
export function composeZones(policies: readonly Policy[]): Pick<ComposedSettings, 'zones'> {
  const zonePolicies = policies.filter((policy) => policy.zones !== undefined);
  const [zonePolicy] = zonePolicies;
  return {
    zones: zonePolicy
      ? {
          allowed: intersection(zonePolicies.map((policy) => policy.zones?.allowed ?? [])) ?? [],
          policy: zonePolicy,
          pinStatefulSets: zonePolicies.some((policy) => policy.zones?.pinStatefulSets !== false),
          addAllowedTopologies: zonePolicies.some((policy) => policy.zones?.addAllowedTopologies === true),
        }
      : undefined,
  };
}

/** Lint: zones two policies cannot both allow, and class topologies for a policy that governs no class. */
const zonesLint: FamilyLint = {
  policy(policy, report) {
    if (!policy.match.kinds.includes('StorageClass') && policy.zones?.addAllowedTopologies)
      report(
        'error',
        'never-applies',
        policy,
        ['spec', 'zones', 'addAllowedTopologies'],
        'mutates StorageClasses; add StorageClass to match.kinds',
      );
  },
  pair(a, b, report) {
    const [zonesA, zonesB] = [a.zones?.allowed, b.zones?.allowed];
    if (zonesA && zonesB && !zonesA.some((zone) => zonesB.includes(zone)))
      report(
        'error',
        'no-admissible-zone',
        b,
        ['spec', 'zones', 'allowed'],
        `no zone is allowed by both this policy and ${a.name} (${zonesA.join(', ')}); claims and StatefulSets governed by both are always denied`,
      );
  },
};

export const zonesFamily: RuleFamily = {
  name: 'zones',
  sections: ['zones'],
  ruleIds: [
    'zones/class-topology',
    'zones/unrestricted-immediate',
    'zones/claim-class',
    'zones/pod-affinity',
    'zones/deprecated-label',
    'zones/no-nodes',
    'zones/class-translation',
    'zones/volume',
  ],
  factRules: [],
  mutations: [
    { id: 'zones/pin', serves: ['zones/pod-affinity'] },
    { id: 'zones/replace-deprecated-label', serves: ['zones/deprecated-label'] },
    { id: 'zones/add-allowed-topologies', serves: ['zones/class-topology'] },
  ],
  claimFields: ['spec.storageClassName', 'metadata.annotations'],
  describe,
  validate: {
    ...forClaimKinds(validateClaim),
    StatefulSet: validateStatefulSet,
    StorageClass: validateStorageClass,
    PersistentVolume: validateVolume,
  },
  mutate: { StatefulSet: mutateStatefulSet, StorageClass: mutateStorageClass },
  lint: zonesLint,
};
