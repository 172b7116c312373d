import { buildCapabilityTable, conditionHolds } from '../core/capabilities.js';
import { WORKLOAD_CONTROLLER_USERS } from '../core/controllers.js';
import type { JsonObject } from '../core/json.js';
import { CLAIM_KINDS, operationsOf, podSpecOf, POD_SPEC_KINDS, resourceOf, type GovernedKind } from '../core/kinds.js';
import { LEGACY_CLASS_ANNOTATION, type StorageClassInfo } from '../core/storage.js';
import { OPT_OUT_LABEL } from '../core/selectors.js';
import type { Action, Policy, PolicyException, RuleId } from '../policy/model.js';
import { nameMatches, present, selectorHolds, str, strList } from './cel.js';

// The floor: the part of each policy that needs no cluster lookup, compiled into admission policies the API server
// runs itself (ValidatingAdmissionPolicy, GA 1.30; MutatingAdmissionPolicy v1, 1.36), so the guardrail holds while
// the webhook is down. It must never deny what the webhook admits: every check here is one the webhook makes with
// the same or a wider verdict (what it cannot express exactly, it leaves out and says why), what the webhook only
// warns (an UPDATE's existing findings, what controllers make, exempted objects) the floor lets through, and an
// expression that fails to evaluate admits (failurePolicy Ignore).

/** What the webhook configurations leave out, which the floor leaves out too (the webhook would admit it unjudged). */
interface FloorScope {
  /** Namespaces never sent to the webhook (kube-system, its own, EXCLUDE_NAMESPACES). */
  excludedNamespaces: readonly string[];
}

interface FloorOptions extends FloorScope {
  /** The Kubernetes minor the objects are for: MutatingAdmissionPolicy (v1) needs 36 or later. */
  kubernetesMinor: number;
  /** Names ending in .static.k8s.io, for a staticManifestsDir (manifest-based admission, KEP-5793). */
  static: boolean;
  /** StorageClasses known offline (--inventory): the provisioner facts can be compiled for the ones a policy names. */
  classes: readonly StorageClassInfo[] | undefined;
  /** The instant exceptions and enforceFrom are read at. */
  now: number;
}

/** A part of a policy the floor does not hold, and why. */
interface Uncompiled {
  policy: string;
  what: string;
  reason: string;
}

export interface Floor {
  /** ValidatingAdmissionPolicies and their bindings. */
  validating: JsonObject[];
  /** MutatingAdmissionPolicies and their bindings (none before 1.36). */
  mutating: JsonObject[];
  uncompiled: Uncompiled[];
}

/** Every generated object carries these labels: what the managed floor lists to find (and prune) its own. */
export const FLOOR_LABELS = { 'app.kubernetes.io/managed-by': 'storage-policy-webhook' };

/** Users whose claims and pods the webhook only warns on, or never sees (core/controllers.ts, the StatefulSet controller's claims). */
const CONTROLLER_USERS = [
  ...WORKLOAD_CONTROLLER_USERS,
  'system:serviceaccount:kube-system:ephemeral-volume-controller',
];

/** One compiled check: a predicate on one claim (bound as `c`) or on the object, its rule, and the message when it fails. */
interface ClaimCheck {
  rule: RuleId;
  /** CEL, true when claim `c` passes. */
  holds: string;
  /** CEL string expression for a failing claim `c`: what is wrong and the fix. */
  message: string;
}

interface ObjectCheck {
  rule: RuleId;
  /** CEL over `object`, true when it passes. */
  holds: (root: string) => string;
  message: string;
}

// --- claims, as the object carries them -------------------------------------------------------------------------

function ephemeralTemplates(root: string, podSpec: readonly string[]): string {
  const volumes = [...podSpec, 'volumes'];
  return `(${present(root, volumes)} ? ${root}.${volumes.join('.')}.filter(v, has(v.ephemeral) && has(v.ephemeral.volumeClaimTemplate)).map(v, v.ephemeral.volumeClaimTemplate) : [])`;
}

/** The claims an object makes (a PVC, StatefulSet templates, ephemeral templates), as a CEL list, by resource. */
function claimListOf(root: string, kinds: readonly GovernedKind[]): string {
  const branches: string[] = [];
  for (const kind of kinds) {
    const { resource } = resourceOf(kind);
    const podSpec = podSpecOf(kind);
    let list: string;
    if (kind === 'PersistentVolumeClaim') list = `[${root}]`;
    else if (kind === 'StatefulSet')
      list = `(${present(root, ['spec', 'volumeClaimTemplates'])} ? ${root}.spec.volumeClaimTemplates : []) + ${ephemeralTemplates(root, podSpec ?? [])}`;
    else list = ephemeralTemplates(root, podSpec ?? []);
    branches.push(`request.resource.resource == ${str(resource)} ? ${list}`);
  }
  return `${branches.join(' : ')} : []`;
}

const CLASS_OF = `(has(c.metadata) && has(c.metadata.annotations) && ${str(LEGACY_CLASS_ANNOTATION)} in c.metadata.annotations ? c.metadata.annotations[${str(LEGACY_CLASS_ANNOTATION)}] : (has(c.spec) && has(c.spec.storageClassName) ? c.spec.storageClassName : ''))`;
const MODES_OF = '(has(c.spec) && has(c.spec.accessModes) ? c.spec.accessModes : [])';
const VOLUME_MODE_OF = "(has(c.spec) && has(c.spec.volumeMode) ? c.spec.volumeMode : 'Filesystem')";
const HAS_STORAGE =
  "(has(c.spec) && has(c.spec.resources) && has(c.spec.resources.requests) && 'storage' in c.spec.resources.requests)";
const STORAGE_OF = 'string(c.spec.resources.requests.storage)';

function classChecks(policy: Policy, uncompiled: Uncompiled[]): ClaimCheck[] {
  const classes = policy.storageClasses;
  if (!classes) return [];
  const checks: ClaimCheck[] = [];
  const admissible = (classes.allowed ?? []).filter((name) => !(classes.denied ?? []).includes(name));
  const instead = admissible.length > 0 ? ` + ${str(`; use one of ${admissible.join(', ')}`)}` : '';
  if ((classes.allowed || classes.denied) && classes.fallback) {
    uncompiled.push({
      policy: policy.name,
      what: 'storageClasses.allowed and denied',
      reason: `the webhook rewrites a forbidden class to the fallback ${classes.fallback}: the floor would refuse what the webhook admits`,
    });
  } else {
    if (classes.allowed)
      checks.push({
        rule: 'storage-class/allowed',
        holds: `${CLASS_OF} == '' || ${CLASS_OF} in ${strList(classes.allowed)}`,
        message: `'class ' + ${CLASS_OF} + ' is not allowed here'${instead}`,
      });
    if (classes.denied)
      checks.push({
        rule: 'storage-class/denied',
        holds: `!(${CLASS_OF} in ${strList(classes.denied)})`,
        message: `'class ' + ${CLASS_OF} + ' is denied here'${instead}`,
      });
  }
  if (classes.emptyClass === 'deny')
    checks.push({
      rule: 'storage-class/empty-class',
      holds: `!(has(c.spec) && has(c.spec.storageClassName) && c.spec.storageClassName == '')`,
      message: `'storageClassName "" (no dynamic provisioning) is not allowed here; name a class'`,
    });
  if (classes.required)
    uncompiled.push({
      policy: policy.name,
      what: 'storageClasses.required',
      reason: 'whether a claim ends with a class depends on the cluster default and the webhook’s defaults',
    });
  return checks;
}

function capacityChecks(policy: Policy): ClaimCheck[] {
  const { min, max } = policy.capacity ?? {};
  const bound = (limit: string, comparison: string, words: string, fix: string): ClaimCheck => ({
    rule: 'capacity/policy-limits',
    holds: `!${HAS_STORAGE} || !isQuantity(${STORAGE_OF}) || quantity(${STORAGE_OF}).compareTo(quantity(${str(limit)})) ${comparison}`,
    message: `${STORAGE_OF} + ' is ${words} ${limit}; request ${fix} ${limit}'`,
  });
  return [
    ...(min ? [bound(min, '>= 0', 'below the policy minimum', 'at least')] : []),
    ...(max ? [bound(max, '<= 0', 'above the policy maximum', 'at most')] : []),
  ];
}

function chosenModeChecks(policy: Policy): ClaimCheck[] {
  const { allowed, denied } = policy.accessModes ?? {};
  if (!allowed && !denied) return [];
  const accepted = (mode: string): string =>
    [
      ...(allowed ? [`${mode} in ${strList(allowed)}`] : []),
      ...(denied ? [`!(${mode} in ${strList(denied)})`] : []),
    ].join(' && ');
  return [
    {
      rule: 'access-modes/not-allowed',
      holds: `${MODES_OF}.all(m, ${accepted('m')})`,
      message: `${MODES_OF}.filter(m, !(${accepted('m')}))[0] + ' is not allowed here'${allowed ? ` + '; use ${allowed.join(', ')}'` : ''}`,
    },
  ];
}

/**
 * The modes each known class's provisioner can never serve (the facts of core/capabilities.ts, with the policy's own
 * capability entries), per volume mode, resolved at generation time against the class's parameters.
 */
function providerModeChecks(
  policy: Policy,
  classes: readonly StorageClassInfo[] | undefined,
  uncompiled: Uncompiled[],
): ClaimCheck[] {
  if (!policy.accessModes) return [];
  if (!classes) {
    uncompiled.push({
      policy: policy.name,
      what: 'access modes a class’s provisioner can never serve (access-modes/unsupported)',
      reason: 'needs the classes’ provisioners: pass --inventory with the StorageClasses',
    });
    return [];
  }
  const table = buildCapabilityTable(policy.accessModes.capabilities);
  const clauses: string[] = [];
  const messages: string[] = [];
  for (const storageClass of classes) {
    const capabilities = table.get(storageClass.provisioner);
    if (!capabilities) continue;
    const servedIn = (volumeMode: 'Filesystem' | 'Block'): string[] => [
      ...capabilities.modes,
      ...(capabilities.conditional ?? [])
        .filter((condition) => conditionHolds(condition, volumeMode, storageClass.parameters))
        .map((condition) => condition.mode),
    ];
    const served = `(${VOLUME_MODE_OF} == 'Block' ? ${strList(servedIn('Block'))} : ${strList(servedIn('Filesystem'))})`;
    // csi-lib-utils asks a CSI driver only for ReadWriteMany when the list has it (rules/access-modes.ts).
    const modes = capabilities.csi ? `('ReadWriteMany' in ${MODES_OF} ? ['ReadWriteMany'] : ${MODES_OF})` : MODES_OF;
    clauses.push(`(${CLASS_OF} != ${str(storageClass.name)} || ${modes}.all(m, m in ${served}))`);
    messages.push(
      `${CLASS_OF} == ${str(storageClass.name)} ? ${modes}.filter(m, !(m in ${served}))[0] + ${str(` is not supported by ${storageClass.provisioner} (supports ${capabilities.modes.join(', ')}); class ${storageClass.name}`)}`,
    );
  }
  if (clauses.length === 0) return [];
  return [{ rule: 'access-modes/unsupported', holds: clauses.join(' && '), message: `(${messages.join(' : ')} : '')` }];
}

function metadataChecks(policy: Policy, uncompiled: Uncompiled[]): ClaimCheck[] {
  const checks: ClaimCheck[] = [];
  for (const requirement of policy.claimMetadata?.required ?? []) {
    const label = requirement.label !== undefined;
    const key = requirement.label ?? requirement.annotation ?? '';
    if (requirement.pattern !== undefined) {
      uncompiled.push({
        policy: policy.name,
        what: `claimMetadata ${label ? 'label' : 'annotation'} ${key} pattern`,
        reason: 'policy patterns are ECMAScript regular expressions, CEL’s are RE2: the floor checks presence only',
      });
    }
    if (requirement.ifPresent) continue;
    const map = `c.metadata.${label ? 'labels' : 'annotations'}`;
    const has = `(has(c.metadata) && has(${map}) && ${str(key)} in ${map})`;
    const when = requirement.whenClasses ? `!(${CLASS_OF} in ${strList(requirement.whenClasses)}) || ` : '';
    checks.push({
      rule: 'claim-metadata/required',
      holds: `${when}${has}`,
      message: str(`the ${label ? 'label' : 'annotation'} ${key} is required`),
    });
  }
  return checks;
}

function inlineVolumeCheck(policy: Policy, kinds: readonly GovernedKind[]): ObjectCheck[] {
  const allowed = policy.inlineVolumes?.csiDrivers;
  const podKinds = kinds.filter((kind) => POD_SPEC_KINDS.includes(kind));
  if (!allowed || podKinds.length === 0) return [];
  const drivers = (root: string): string => {
    const branches = podKinds.map((kind) => {
      const volumes = [...(podSpecOf(kind) ?? []), 'volumes'];
      return `request.resource.resource == ${str(resourceOf(kind).resource)} ? (${present(root, volumes)} ? ${root}.${volumes.join('.')}.filter(v, has(v.csi)).map(v, v.csi.driver) : [])`;
    });
    return `(${branches.join(' : ')} : [])`;
  };
  return [
    {
      rule: 'inline-volumes/csi-driver',
      holds: (root) => `${drivers(root)}.all(d, d in ${strList(allowed)})`,
      message: `'CSI inline volume driver ' + ${drivers('object')}.filter(d, !(d in ${strList(allowed)}))[0] + ${str(` is not allowed here${allowed.length > 0 ? `; use one of ${allowed.join(', ')}` : ''}`)}`,
    },
  ];
}

function classRequirementChecks(policy: Policy, uncompiled: Uncompiled[]): ObjectCheck[] {
  const requirements = policy.classRequirements;
  if (!requirements) return [];
  const checks: ObjectCheck[] = [];
  if (requirements.reclaimPolicies)
    checks.push({
      rule: 'class-requirements/reclaim-policy',
      holds: (root) =>
        `(has(${root}.reclaimPolicy) ? ${root}.reclaimPolicy : 'Delete') in ${strList(requirements.reclaimPolicies ?? [])}`,
      message: `'reclaimPolicy ' + (has(object.reclaimPolicy) ? object.reclaimPolicy : 'Delete') + ' is not allowed; use ${requirements.reclaimPolicies.join(', ')}'`,
    });
  if (requirements.volumeBindingMode)
    checks.push({
      rule: 'class-requirements/binding-mode',
      holds: (root) =>
        `(has(${root}.volumeBindingMode) ? ${root}.volumeBindingMode : 'Immediate') == ${str(requirements.volumeBindingMode ?? '')}`,
      message: `'volumeBindingMode must be ${requirements.volumeBindingMode}'`,
    });
  if (requirements.allowVolumeExpansion) {
    const required = requirements.allowVolumeExpansion === 'required';
    checks.push({
      rule: 'class-requirements/volume-expansion',
      holds: (root) =>
        `${required ? '' : '!'}(has(${root}.allowVolumeExpansion) && ${root}.allowVolumeExpansion == true)`,
      message: `'allowVolumeExpansion ${required ? 'must be true' : 'must not be true'}'`,
    });
  }
  if (requirements.provisioners)
    checks.push({
      rule: 'class-requirements/provisioner',
      holds: (root) => `${root}.provisioner in ${strList(requirements.provisioners ?? [])}`,
      message: `'provisioner ' + object.provisioner + ${str(` is not allowed; use one of ${requirements.provisioners.join(', ')}`)}`,
    });
  if (requirements.mountOptions)
    checks.push({
      rule: 'class-requirements/mount-options',
      holds: (root) =>
        `!has(${root}.mountOptions) || ${root}.mountOptions.all(o, o in ${strList(requirements.mountOptions ?? [])})`,
      message: str(`a mount option is not allowed; use only ${requirements.mountOptions.join(', ')}`),
    });
  if (requirements.parameters)
    uncompiled.push({
      policy: policy.name,
      what: 'classRequirements.parameters',
      reason:
        'parameter names are compared case-insensitively, which CEL map keys cannot be without listing every spelling',
    });
  return checks;
}

/** The parts no admission policy can hold: they need the webhook's cluster data, quotes or writes. */
function lookupOnlySections(policy: Policy): Uncompiled[] {
  const needs: Array<[keyof Policy, string]> = [
    ['iops', 'IOPS and throughput quotes and budgets need the classes and the namespace’s existing claims'],
    ['zones', 'zones come from the classes’ topology and the cluster’s nodes; pinning is a write'],
    ['providerLimits', 'volume-type limits need the class’s parameters'],
    ['volumeAttributesClasses', 'VolumeAttributesClasses are looked up in the cluster'],
    ['dataSources', 'clones and restores are checked against their sources in the cluster'],
    ['persistentVolumes', 'PersistentVolumes are not compiled yet'],
  ];
  const uncompiled: Uncompiled[] = needs
    .filter(([section]) => policy[section] !== undefined)
    .map(([section, reason]) => ({ policy: policy.name, what: section, reason }));
  if (policy.capacity)
    uncompiled.push({
      policy: policy.name,
      what: 'capacity/type-limits',
      reason: 'the volume type’s size limits need the class’s parameters',
    });
  return uncompiled;
}

// --- selection: namespaces, exceptions, controllers ---------------------------------------------------------------

function namespaceConditions(policy: Policy): JsonObject[] {
  const conditions: JsonObject[] = [];
  const { namespaces, excludeNamespaces } = policy.match;
  if (namespaces)
    conditions.push({
      name: 'namespaces',
      expression: namespaces.map((pattern) => nameMatches('request.namespace', pattern)).join(' || '),
    });
  if (excludeNamespaces)
    conditions.push({
      name: 'exclude-namespaces',
      expression: `!(${excludeNamespaces.map((pattern) => nameMatches('request.namespace', pattern)).join(' || ')})`,
    });
  return conditions;
}

const OBJECT_NAME =
  "(has(object.metadata.name) ? object.metadata.name : (has(object.metadata.generateName) ? object.metadata.generateName : ''))";

/** Objects an active exception exempts from the policy: the webhook only warns on them. */
function exceptionCondition(policy: Policy, exceptions: readonly PolicyException[], now: number): JsonObject[] {
  const active = exceptions.filter(
    (exception) =>
      (exception.permanent || (exception.expiresAt !== undefined && Date.parse(exception.expiresAt) > now)) &&
      exception.policies.some((entry) => entry.name === policy.name),
  );
  if (active.length === 0) return [];
  const covered = active.map((exception) => {
    const { kinds, namespaces, names, labelSelector } = exception.match;
    const parts = [
      ...(kinds ? [`request.kind.kind in ${strList(kinds)}`] : []),
      ...(namespaces
        ? [`(${namespaces.map((pattern) => nameMatches('request.namespace', pattern)).join(' || ')})`]
        : []),
      ...(names ? [`(${names.map((pattern) => nameMatches(OBJECT_NAME, pattern)).join(' || ')})`] : []),
      ...(labelSelector
        ? [`(${selectorHolds(labelSelector, 'object.metadata.labels', 'has(object.metadata.labels)')})`]
        : []),
    ];
    return parts.length === 0 ? 'true' : `(${parts.join(' && ')})`;
  });
  return [{ name: 'not-exempted', expression: `!(${covered.join(' || ')})` }];
}

function bindingSelector(policy: Policy, scope: FloorScope): JsonObject {
  const selector = policy.match.namespaceSelector;
  return {
    ...(selector?.matchLabels ? { matchLabels: selector.matchLabels } : {}),
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...scope.excludedNamespaces] },
      { key: OPT_OUT_LABEL, operator: 'NotIn', values: ['true'] },
      ...(selector?.matchExpressions ?? []),
    ],
  };
}

// --- assembly -------------------------------------------------------------------------------------------------

function actionOf(policy: Policy, rule: RuleId, now: number): Action {
  const action = policy.rules[rule] ?? policy.action;
  // Before enforceFrom the webhook only warns (dated enforcement).
  return action === 'deny' && policy.enforceFrom !== undefined && Date.parse(policy.enforceFrom) > now
    ? 'warn'
    : action;
}

const VALIDATION_ACTIONS: Record<Action, string> = { deny: 'Deny', warn: 'Warn', audit: 'Audit' };

function objectName(base: string, options: FloorOptions): string {
  return options.static ? `${base}.static.k8s.io` : base;
}

function resourceRules(kinds: readonly GovernedKind[]): JsonObject[] {
  return kinds.map((kind) => {
    const { group, version, resource } = resourceOf(kind);
    return { apiGroups: [group], apiVersions: [version], operations: [...operationsOf(kind)], resources: [resource] };
  });
}

function labelsOf(policy: Policy): JsonObject {
  return { ...FLOOR_LABELS, 'storage-policy-webhook.io/policy': policy.name };
}

interface Validation {
  rule: RuleId;
  expression: string;
  messageExpression: string;
}

function suffix(policy: Policy, rule: RuleId): string {
  return ` + ${str(` [policy ${policy.name}, rule ${rule}; storage-policy admission floor]`)}`;
}

function claimValidation(policy: Policy, check: ClaimCheck): Validation {
  return {
    rule: check.rule,
    // What oldObject already violated is only warned by the webhook: an UPDATE that had it passes here.
    expression: `variables.claims.all(c, ${check.holds}) || (oldObject != null && !variables.oldClaims.all(c, ${check.holds}))`,
    messageExpression: `variables.claims.filter(c, !(${check.holds})).map(c, ${check.message})[0]${suffix(policy, check.rule)}`,
  };
}

function objectValidation(policy: Policy, check: ObjectCheck): Validation {
  return {
    rule: check.rule,
    expression: `${check.holds('object')} || (oldObject != null && !(${check.holds('oldObject')}))`,
    messageExpression: `${check.message}${suffix(policy, check.rule)}`,
  };
}

/** One ValidatingAdmissionPolicy and its binding per policy, object group and action (bindings carry the action). */
function validatingObjects(
  policy: Policy,
  group: 'claims' | 'classes',
  kinds: readonly GovernedKind[],
  validations: Validation[],
  conditions: JsonObject[],
  options: FloorOptions,
): JsonObject[] {
  const byAction = new Map<Action, Validation[]>();
  for (const validation of validations) {
    const action = actionOf(policy, validation.rule, options.now);
    byAction.set(action, [...(byAction.get(action) ?? []), validation]);
  }
  return [...byAction.entries()].flatMap(([action, entries]) => {
    const name = objectName(`storage-policy.${policy.name}.${group}.${action}`, options);
    return [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name, labels: labelsOf(policy) },
        spec: {
          failurePolicy: 'Ignore',
          matchConstraints: { resourceRules: resourceRules(kinds) },
          matchConditions: conditions,
          ...(group === 'claims'
            ? {
                variables: [
                  { name: 'claims', expression: claimListOf('object', kinds) },
                  { name: 'oldClaims', expression: `oldObject == null ? [] : (${claimListOf('oldObject', kinds)})` },
                ],
              }
            : {}),
          validations: entries.map((entry) => ({
            expression: entry.expression,
            messageExpression: entry.messageExpression,
            reason: 'Forbidden',
          })),
        },
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name, labels: labelsOf(policy) },
        spec: {
          policyName: name,
          validationActions: [VALIDATION_ACTIONS[action]],
          ...(group === 'claims' ? { matchResources: { namespaceSelector: bindingSelector(policy, options) } } : {}),
        },
      },
    ];
  });
}

/** The namespace default class as a MutatingAdmissionPolicy: for a claim created with none, when the cluster has no default. */
function defaultClassObjects(
  policy: Policy,
  conditions: JsonObject[],
  options: FloorOptions,
  uncompiled: Uncompiled[],
): JsonObject[] {
  const defaults = policy.storageClasses?.defaults;
  if (!defaults || !policy.match.kinds.includes('PersistentVolumeClaim')) return [];
  if (options.kubernetesMinor < 36) {
    uncompiled.push({
      policy: policy.name,
      what: 'storageClasses.defaults',
      reason: 'MutatingAdmissionPolicy (admissionregistration.k8s.io/v1) needs Kubernetes 1.36',
    });
    return [];
  }
  const modes = '(has(object.spec.accessModes) ? object.spec.accessModes : [])';
  const volumeMode = "(has(object.spec.volumeMode) ? object.spec.volumeMode : 'Filesystem')";
  const applies = defaults.map((choice) => {
    const parts = [
      ...(choice.whenVolumeMode ? [`${volumeMode} == ${str(choice.whenVolumeMode)}`] : []),
      ...(choice.whenAccessModes ? [`${modes}.exists(m, m in ${strList(choice.whenAccessModes)})`] : []),
    ];
    return parts.length === 0 ? 'true' : parts.join(' && ');
  });
  const chosen = `${defaults.map((choice, index) => `${applies[index]} ? ${str(choice.class)}`).join(' : ')} : ''`;
  const name = objectName(`storage-policy.${policy.name}.default-class`, options);
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingAdmissionPolicy',
      metadata: { name, labels: labelsOf(policy) },
      spec: {
        failurePolicy: 'Ignore',
        reinvocationPolicy: 'Never',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['persistentvolumeclaims'] },
          ],
        },
        matchConditions: [
          ...conditions,
          {
            // The API server's DefaultStorageClass plugin ran first: a claim still without a class has no cluster default.
            name: 'no-class',
            expression: `!has(object.spec.storageClassName) && !(has(object.metadata.annotations) && ${str(LEGACY_CLASS_ANNOTATION)} in object.metadata.annotations)`,
          },
          { name: 'a-default-applies', expression: applies.map((clause) => `(${clause})`).join(' || ') },
        ],
        mutations: [
          {
            patchType: 'ApplyConfiguration',
            applyConfiguration: { expression: `Object{spec: Object.spec{storageClassName: ${chosen}}}` },
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingAdmissionPolicyBinding',
      metadata: { name, labels: labelsOf(policy) },
      spec: { policyName: name, matchResources: { namespaceSelector: bindingSelector(policy, options) } },
    },
  ];
}

/** Compiles what of each policy needs no cluster lookup into admission policies, and lists what it leaves out. */
export function compileFloor(
  policies: readonly Policy[],
  exceptions: readonly PolicyException[],
  options: FloorOptions,
): Floor {
  const floor: Floor = { validating: [], mutating: [], uncompiled: [] };
  for (const policy of policies) {
    const uncompiled: Uncompiled[] = lookupOnlySections(policy);
    const claimKinds = CLAIM_KINDS.filter((kind) => policy.match.kinds.includes(kind));
    const shared = [
      ...exceptionCondition(policy, exceptions, options.now),
      { name: 'not-made-by-controllers', expression: `!(request.userInfo.username in ${strList(CONTROLLER_USERS)})` },
    ];
    if (claimKinds.length > 0) {
      const checks = [
        ...classChecks(policy, uncompiled),
        ...capacityChecks(policy),
        ...chosenModeChecks(policy),
        ...providerModeChecks(policy, options.classes, uncompiled),
        ...metadataChecks(policy, uncompiled),
      ];
      const validations = [
        ...checks.map((check) => claimValidation(policy, check)),
        ...inlineVolumeCheck(policy, claimKinds).map((check) => objectValidation(policy, check)),
      ];
      const conditions = [...namespaceConditions(policy), ...shared];
      if (validations.length > 0)
        floor.validating.push(...validatingObjects(policy, 'claims', claimKinds, validations, conditions, options));
      floor.mutating.push(...defaultClassObjects(policy, conditions, options, uncompiled));
    }
    if (policy.match.kinds.includes('StorageClass')) {
      const validations = classRequirementChecks(policy, uncompiled).map((check) => objectValidation(policy, check));
      if (validations.length > 0)
        floor.validating.push(...validatingObjects(policy, 'classes', ['StorageClass'], validations, shared, options));
    }
    floor.uncompiled.push(...uncompiled);
  }
  return floor;
}
