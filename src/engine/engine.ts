import { buildCapabilityTable, csiDriverOf, type CapabilityTable } from '../core/capabilities.js';
import { provisionedBy, type Provisioned } from '../core/ebs.js';
import type { JsonObject } from '../core/json.js';
import { applyOperations, type PatchOperation } from '../core/patch.js';
import {
  claimMatchesTemplate,
  claimTemplateShape,
  STATEFULSET_CONTROLLER_USERS,
  templateCandidates,
} from '../core/statefulset-claims.js';
import { madeByController } from '../core/controllers.js';
import { inlineCsiVolumesOf } from '../core/inline-volumes.js';
import {
  claimsOf,
  pickClusterDefault,
  type AttributesClassInfo,
  type Claim,
  type StorageClassInfo,
} from '../core/storage.js';
import { writablePrefixes, type GovernedKind } from '../core/kinds.js';
import { readPersistentVolume } from '../core/volumes.js';
import { quoteMonthly } from '../core/prices.js';
import { parseDuration } from '../core/duration.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import type { Action, Policy, PolicyException } from '../policy/model.js';
import {
  configures,
  hasFacts,
  type ComposedSettings,
  type Finding,
  type Mutation,
  type Operation,
  type ResolvedAttributesClass,
  type ResolvedClass,
  type ReviewInput,
  type ReviewedClaim,
  type RuleContext,
  type RuleFamily,
} from '../rules/contract.js';
import { uncheckedMessage } from '../rules/common.js';
import { pricedVolume } from '../rules/cost.js';
import { RULE_FAMILIES, SHARED_RULE_IDS } from '../rules/registry.js';
import { composeSettings } from '../rules/registry.js';
import { exemptionFor, exemptionNote, mutationExempted } from './exceptions.js';
import { PolicyIndex } from './policy-index.js';

const MUTATING_FAMILIES = RULE_FAMILIES.filter((family) => Object.keys(family.mutate).length > 0);

/** Whether the kind table lets a patch write this path (core/kinds.ts says why each kind's paths are what they are). */
export function patchAllowed(kind: GovernedKind, operation: Operation, patch: PatchOperation): boolean {
  return writablePrefixes(kind, operation).some(
    (prefix) => patch.path === prefix || patch.path.startsWith(`${prefix}/`),
  );
}

export interface ResolvedFinding extends Finding {
  action: Action;
  /** Already present in oldObject: never denied on UPDATE, only warned. */
  preexisting: boolean;
  /** A StoragePolicyException exempts the object from this rule: reported (warned), never enforced. */
  exemption?: { exception: string; note: string };
}

interface AppliedMutations {
  patch: PatchOperation[];
  notes: Mutation[];
  object: JsonObject;
  /** Mutations that could not be applied to this object (a malformed shape), left out of the patch. */
  skippedMutations: string[];
}

/** A rule family threw: a bug, reported by name instead of as a bare server error. */
export class RuleFailure extends Error {
  constructor(
    readonly family: string,
    cause: unknown,
  ) {
    super(`rule family ${family} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

function findingKey(finding: Finding): string {
  return `${finding.policy.name}\u0000${finding.rule}\u0000${finding.path}`;
}

function resolveAction(finding: Finding): Action {
  const override = finding.policy.rules[finding.rule];
  if (override) return override;
  if (finding.action) return finding.action;
  return finding.severity === 'advice' ? 'warn' : finding.policy.action;
}

/** The instant a policy's denials start (spec.enforceFrom), when it is still ahead of `now`. */
function enforcedLater(policy: Policy, now: number): string | undefined {
  if (policy.enforceFrom === undefined) return undefined;
  return Date.parse(policy.enforceFrom) > now ? policy.enforceFrom : undefined;
}

/**
 * The class a claim provisions from. With no class written, the one it will get when created: the
 * API server's DefaultStorageClass plugin runs before any webhook and sets the cluster default; only
 * without one does the claim reach this webhook unset and get the policies' default.
 */
function resolveClass(claim: Claim, settings: ComposedSettings, lookup: ClusterLookup): ResolvedClass {
  if (claim.classSource === 'unset') {
    const classes = lookup.storageClasses();
    const clusterDefault = classes.known ? pickClusterDefault(classes.value) : undefined;
    if (clusterDefault)
      return { state: 'found', name: clusterDefault.name, origin: 'cluster-default', info: clusterDefault };
    const picked = settings.defaultClassFor(claim);
    return picked ? classNamed(picked.choice.class, 'policy-default', lookup) : { state: 'no-class' };
  }
  return claim.className ? classNamed(claim.className, 'written', lookup) : { state: 'no-class' };
}

/**
 * The VAC a claim provisions with. With none written, the policies' default when the claim gets it: a
 * PersistentVolumeClaim on CREATE, or a template (its claims are created later), provided the VAC exists and
 * is for the driver of the claim's class (external-provisioner refuses another driver's).
 */
function resolveAttributesClass(
  claim: Claim,
  storageClass: ResolvedClass,
  settings: ComposedSettings,
  operation: Operation,
  lookup: ClusterLookup,
): ResolvedAttributesClass {
  const name = claim.attributesClassName;
  if (name === undefined) {
    const fallback = settings.attributesClassDefault;
    if (!fallback || storageClass.state !== 'found' || (operation !== 'CREATE' && claim.templateName === undefined))
      return { state: 'none' };
    const vac = lookup.attributesClass(fallback.name);
    if (!vac.known || !vac.value || vac.value.driverName !== csiDriverOf(storageClass.info.provisioner))
      return { state: 'none' };
    return { state: 'found', name: fallback.name, info: vac.value, origin: 'policy-default' };
  }
  const answer = lookup.attributesClass(name);
  if (!answer.known) return { state: 'unknown', name, reason: answer.reason };
  return answer.value ? { state: 'found', name, info: answer.value, origin: 'written' } : { state: 'missing', name };
}

function classNamed(name: string, origin: 'written' | 'policy-default', lookup: ClusterLookup): ResolvedClass {
  const answer = lookup.storageClass(name);
  if (!answer.known) return { state: 'unknown', name, origin, reason: answer.reason };
  return answer.value ? { state: 'found', name, origin, info: answer.value } : { state: 'missing', name, origin };
}

/**
 * A claim the StatefulSet controller creates, as the template says, for a StatefulSet the cluster already runs.
 * Its template was admitted (or predates the policy) and cannot change, so the claim is judged as that template
 * is on UPDATE: scaling a grandfathered StatefulSet must not leave the new replica without its claim. A user
 * creating the same claim, or a claim that differs from the template, is judged as any other.
 */
function createdFromExistingTemplate(input: ReviewInput, lookup: ClusterLookup): boolean {
  if (
    input.kind !== 'PersistentVolumeClaim' ||
    input.operation !== 'CREATE' ||
    !STATEFULSET_CONTROLLER_USERS.has(input.requester ?? '')
  )
    return false;
  const claim = claimTemplateShape(input.object);
  return templateCandidates(input.name).some(({ statefulSet, template }) => {
    const templates = lookup.statefulSetTemplates(input.namespace, statefulSet);
    const shape = templates.known ? templates.value?.get(template) : undefined;
    return shape !== undefined && claimMatchesTemplate(claim, shape);
  });
}

/** What a family may return and whether it judges without its sections, worked out once per family. */
const declarations = new WeakMap<RuleFamily, { ids: ReadonlySet<string>; facts: boolean }>();

function declarationsOf(family: RuleFamily): { ids: ReadonlySet<string>; facts: boolean } {
  let declared = declarations.get(family);
  if (!declared) {
    const ids = new Set<string>([
      ...family.ruleIds,
      ...SHARED_RULE_IDS,
      ...family.mutations.map((mutation) => mutation.id),
    ]);
    declared = { ids, facts: hasFacts(family) };
    declarations.set(family, declared);
  }
  return declared;
}

/** The governing policies that have one of the family's sections. */
function policiesOf(family: RuleFamily, governing: readonly Policy[]): Policy[] {
  return governing.filter((policy) => configures(policy, family));
}

/**
 * Runs a family's handler for the object's kind where its declarations say it applies: for the policies with its
 * sections (or every governing policy, for its facts). What it returns must be what it declares: an undeclared rule
 * or mutation id is a bug of the family, reported as one.
 */
function runHandler<Result extends Finding | Mutation>(
  family: RuleFamily,
  handler: ((context: RuleContext) => Result[]) | undefined,
  context: RuleContext,
  policies: Policy[],
): Result[] {
  const declared = declarationsOf(family);
  if (!handler || (policies.length === 0 && !declared.facts)) return [];
  let result: Result[];
  try {
    result = handler({ ...context, policies });
  } catch (error) {
    throw new RuleFailure(family.name, error);
  }
  const undeclared = result.filter((entry) => !declared.ids.has(entry.rule));
  if (undeclared.length > 0) {
    const ids = undeclared.map((entry) => entry.rule).join(', ');
    throw new RuleFailure(family.name, new Error(`returned ids it does not declare: ${ids}`));
  }
  return result;
}

/** The findings of a family on the object, from its validator for the object's kind. */
export function runValidator(
  family: RuleFamily,
  context: RuleContext,
  policies: Policy[] = policiesOf(family, context.governing),
): Finding[] {
  return runHandler(family, family.validate[context.kind], context, policies);
}

/** The mutations of a family on the object, from its mutator for the object's kind. */
function runMutator(family: RuleFamily, context: RuleContext, policies: Policy[] | undefined): Mutation[] {
  return runHandler(family, family.mutate[context.kind], context, policies ?? policiesOf(family, context.governing));
}

interface EngineOptions {
  policies: readonly Policy[];
  lookup: ClusterLookup;
  /** The clock dated enforcement and exceptions read (enforceFrom, expiresAt); the CLI's --now sets it. Default: Date.now. */
  now?: () => number;
  exceptions?: readonly PolicyException[];
}

/** The one engine the server, the CLI and the tests share. Immutable: a new policy set is a new engine. */
export class Engine {
  readonly index: PolicyIndex;
  private readonly capabilityTables = new WeakMap<Policy, CapabilityTable>();
  /** Composed settings per set of governing policies: a namespace's set is the same from one request to the next. */
  private readonly composed = new Map<string, { settings: ComposedSettings; byFamily: Map<RuleFamily, Policy[]> }>();

  readonly policies: readonly Policy[];
  readonly lookup: ClusterLookup;
  readonly exceptions: readonly PolicyException[];
  private readonly now: () => number;

  constructor(options: EngineOptions) {
    this.policies = options.policies;
    this.lookup = options.lookup;
    this.exceptions = options.exceptions ?? [];
    this.now = options.now ?? Date.now;
    this.index = new PolicyIndex(options.policies);
  }

  /** Which exception, if any, exempts a finding of this object at `now`. */
  private exemptionOf(input: ReviewInput, now: number): (finding: Finding) => PolicyException | undefined {
    if (this.exceptions.length === 0) return () => undefined;
    return (finding) => exemptionFor(this.exceptions, input, finding.policy.name, finding.rule, now);
  }

  private capabilitiesFor = (policy: Policy): CapabilityTable => {
    let table = this.capabilityTables.get(policy);
    if (!table) {
      table = buildCapabilityTable(policy.accessModes?.capabilities);
      this.capabilityTables.set(policy, table);
    }
    return table;
  };

  /** What a set of governing policies composes to, and which of them each family judges for: cached per set. */
  private governedBy(policies: readonly Policy[]): { settings: ComposedSettings; byFamily: Map<RuleFamily, Policy[]> } {
    const key = policies.map((policy) => policy.name).join('\u0000');
    let governed = this.composed.get(key);
    if (!governed) {
      if (this.composed.size >= 10_000) this.composed.clear();
      const byFamily = new Map(RULE_FAMILIES.map((family) => [family, policiesOf(family, policies)]));
      governed = { settings: composeSettings(policies), byFamily };
      this.composed.set(key, governed);
    }
    return governed;
  }

  /** Decodes the object once: its claims, each with its class resolved, and a PersistentVolume read into its model. */
  private context(input: ReviewInput, object: JsonObject, policies: Policy[], settings: ComposedSettings): RuleContext {
    const claims = claimsOf(input.kind, object).map((claim): ReviewedClaim => {
      const storageClass = resolveClass(claim, settings, this.lookup);
      return {
        ...claim,
        storageClass,
        attributesClass: resolveAttributesClass(claim, storageClass, settings, input.operation, this.lookup),
      };
    });
    return {
      kind: input.kind,
      volume: input.kind === 'PersistentVolume' ? readPersistentVolume(object) : undefined,
      inlineVolumes: inlineCsiVolumesOf(input.kind, object),
      operation: input.operation,
      namespace: input.namespace,
      object,
      oldObject: input.oldObject,
      claims,
      policies,
      governing: policies,
      settings,
      lookup: this.lookup,
      capabilitiesFor: this.capabilitiesFor,
      now: this.now(),
    };
  }

  /**
   * Runs every mutating family in order, each on the object as the earlier families' patches left it. A
   * substitution (onlyIfAdmitted) that leaves the object denied is dropped and the rest mutated again without it.
   */
  mutate(input: ReviewInput): AppliedMutations {
    const applied = this.applyMutations(input, true);
    if (!applied.notes.some((note) => note.onlyIfAdmitted)) return applied;
    const denied = this.validate({ ...input, object: applied.object }).some((finding) => finding.action === 'deny');
    return denied ? this.applyMutations(input, false) : applied;
  }

  private applyMutations(input: ReviewInput, substitutions: boolean): AppliedMutations {
    const { policies } = this.index.match(input.kind, input.namespace, this.lookup);
    let object = input.object;
    const patch: PatchOperation[] = [];
    const notes: Mutation[] = [];
    const skippedMutations: string[] = [];
    if (policies.length === 0) return { patch, notes, object, skippedMutations };
    const { settings, byFamily } = this.governedBy(policies);
    // Decoded again only after a family changed the object: most families leave it as it was.
    let context = this.context(input, object, policies, settings);
    for (const family of MUTATING_FAMILIES) {
      if (context.object !== object) context = this.context(input, object, policies, settings);
      const mutations = runMutator(family, context, byFamily.get(family));
      for (const mutation of mutations) {
        if (mutation.onlyIfAdmitted && !substitutions) continue;
        if (
          this.exceptions.length > 0 &&
          mutationExempted(this.exceptions, input, mutation.policy.name, mutation.rule, this.now())
        )
          continue;
        const operations = mutation.patch.filter((operation) => patchAllowed(input.kind, input.operation, operation));
        if (operations.length === 0) continue;
        try {
          object = applyOperations(object, operations) as JsonObject;
        } catch (error) {
          skippedMutations.push(`${mutation.rule}: ${(error as Error).message.split('\n')[0]}`);
          continue;
        }
        patch.push(...operations);
        notes.push({ ...mutation, patch: operations });
      }
    }
    return { patch, notes, object, skippedMutations };
  }

  private findings(input: ReviewInput, object: JsonObject, policies: Policy[]): Finding[] {
    const { settings, byFamily } = this.governedBy(policies);
    const context = this.context(input, object, policies, settings);
    return RULE_FAMILIES.flatMap((family) => runValidator(family, context, byFamily.get(family)));
  }

  /**
   * Judges the object as it will be stored. On UPDATE a finding that oldObject already had is only
   * warned: immutable fields cannot be fixed, and scaling an old object must keep working; likewise every
   * finding of what a controller makes from its owner's template (core/controllers.ts) and of a claim the
   * StatefulSet controller creates from an existing StatefulSet's template.
   */
  validate(input: ReviewInput): ResolvedFinding[] {
    const { policies, findings: matchFindings } = this.index.match(input.kind, input.namespace, this.lookup);
    if (policies.length === 0 && matchFindings.length === 0) return [];
    const raw = [...matchFindings, ...this.findings(input, input.object, policies)];
    const now = this.now();
    const exemption = this.exemptionOf(input, now);
    if (
      raw.length > 0 &&
      input.operation === 'CREATE' &&
      (madeByController(input.kind, input.object, input.requester) || createdFromExistingTemplate(input, this.lookup))
    )
      return resolveFindings(raw, () => true, now, exemption);
    // oldObject is judged only when there is something to ratchet.
    const before = new Map<string, number | undefined>();
    if (input.operation === 'UPDATE' && input.oldObject && raw.length > 0)
      for (const finding of this.findings({ ...input, object: input.oldObject }, input.oldObject, policies))
        before.set(findingKey(finding), finding.amount);
    // A budget finding the old object had is ratcheted only while the object asks no more than it did: a scale-up
    // of a StatefulSet already over its budget is refused, keeping it as it is (or smaller) is not.
    const hadIt = (finding: Finding): boolean => {
      const key = findingKey(finding);
      if (!before.has(key)) return false;
      const old = before.get(key);
      return finding.amount === undefined || old === undefined || finding.amount <= old;
    };
    return resolveFindings(raw, hadIt, now, exemption);
  }

  /**
   * Judges an object that is already stored, as its findings stand when it is updated unchanged (what an
   * UPDATE reports as "(existing)"), each with the action its policy gives it: the audit's question, which is
   * what the object violates, not whether a write of it would pass.
   */
  judgeExisting(input: ReviewInput): ResolvedFinding[] {
    const { policies, findings: matchFindings } = this.index.match(input.kind, input.namespace, this.lookup);
    if (policies.length === 0 && matchFindings.length === 0) return [];
    const existing = { ...input, operation: 'UPDATE' as const, oldObject: input.object };
    const raw = [...matchFindings, ...this.findings(existing, input.object, policies)];
    const now = this.now();
    return resolveFindings(raw, () => false, now, this.exemptionOf(input, now)).map((finding) => ({
      ...finding,
      preexisting: true,
    }));
  }

  /** The object's claims with their class and VolumeAttributesClass as they resolve, and the composed settings. */
  private resolvedClaims(input: ReviewInput): {
    settings: ComposedSettings;
    claims: Array<{
      claim: Claim;
      storageClass: StorageClassInfo | undefined;
      attributes: AttributesClassInfo | undefined;
    }>;
  } {
    const { settings } = this.governedBy(this.index.match(input.kind, input.namespace, this.lookup).policies);
    const claims = claimsOf(input.kind, input.object).map((claim) => {
      const storageClass = resolveClass(claim, settings, this.lookup);
      const attributes = resolveAttributesClass(claim, storageClass, settings, input.operation, this.lookup);
      return {
        claim,
        storageClass: storageClass.state === 'found' ? storageClass.info : undefined,
        attributes: attributes.state === 'found' ? attributes.info : undefined,
      };
    });
    return { settings, claims };
  }

  /** What the object's claims cost a month in all (a template's claim once per replica), at the composed prices; undefined when none is priced. */
  monthlyCost(input: ReviewInput): { total: number; currency: string } | undefined {
    const { settings, claims } = this.resolvedClaims(input);
    let total: number | undefined;
    for (const { claim, storageClass, attributes } of claims) {
      const volume = pricedVolume(storageClass, attributes, claim.requestBytes);
      const quote = volume && quoteMonthly(volume, settings.prices.table);
      if (quote) total = (total ?? 0) + quote.total * claim.copies;
    }
    return total === undefined ? undefined : { total, currency: settings.prices.table.currency };
  }

  /**
   * The money limits of a namespace's claims: its budget (the smallest cost.maxPerNamespace among the policies that
   * govern claims there), the shortest idleAfter, and the currency of their price table.
   */
  costLimits(namespace: string): { currency: string; budget: number | undefined; idleAfterMs: number | undefined } {
    const { policies } = this.index.match('PersistentVolumeClaim', namespace, this.lookup);
    const least = (values: Array<number | undefined>): number | undefined => {
      const known = values.filter((value): value is number => value !== undefined);
      return known.length > 0 ? Math.min(...known) : undefined;
    };
    return {
      currency: this.governedBy(policies).settings.prices.table.currency,
      budget: least(policies.map((policy) => policy.cost?.maxPerNamespace)),
      idleAfterMs: least(policies.map((policy) => parseDuration(policy.cost?.idleAfter ?? ''))),
    };
  }

  /** IOPS and throughput the object's claims provision in all (a template's claim once per replica), from the classes they resolve to. */
  provisioned(input: ReviewInput): Provisioned {
    const total = { iops: 0, throughputMiBps: 0 };
    for (const { claim, storageClass, attributes } of this.resolvedClaims(input).claims) {
      const each = provisionedBy(storageClass, attributes, claim.requestBytes);
      total.iops += each.iops * claim.copies;
      total.throughputMiBps += each.throughputMiBps * claim.copies;
    }
    return total;
  }
}

/**
 * One lookup/unavailable finding per policy, field and reason, naming everything the families could not check
 * there: one unknown class is one message, not one per family that needed it.
 */
function mergeUnchecked(raw: Finding[]): Finding[] {
  const merged = new Map<string, { finding: Finding; what: string[] }>();
  const findings: Finding[] = [];
  for (const finding of raw) {
    if (!finding.unchecked) {
      findings.push(finding);
      continue;
    }
    const key = `${findingKey(finding)}\u0000${finding.unchecked.reason}`;
    const entry = merged.get(key);
    if (entry) {
      if (!entry.what.includes(finding.unchecked.what)) entry.what.push(finding.unchecked.what);
      continue;
    }
    const fresh = { finding: { ...finding }, what: [finding.unchecked.what] };
    merged.set(key, fresh);
    findings.push(fresh.finding);
  }
  for (const { finding, what } of merged.values())
    if (finding.unchecked) finding.message = uncheckedMessage(what, finding.unchecked.reason, finding.policy);
  return findings;
}

/**
 * Drops repeats (one message per rule and path) and gives each finding its action: a preexisting deny is a warn, and
 * so is a deny of a policy whose enforceFrom is still ahead of `now` (the message says from when it denies).
 */
function resolveFindings(
  raw: Finding[],
  preexisting: (finding: Finding) => boolean,
  now: number,
  exemption: (finding: Finding) => PolicyException | undefined,
): ResolvedFinding[] {
  const seen = new Set<string>();
  const findings: ResolvedFinding[] = [];
  for (const finding of mergeUnchecked(raw)) {
    const dedupe = `${finding.rule}\u0000${finding.path}\u0000${finding.message}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    const exempted = exemption(finding);
    if (exempted) {
      findings.push({
        ...finding,
        action: 'warn',
        preexisting: preexisting(finding),
        exemption: { exception: exempted.name, note: exemptionNote(exempted, now) },
      });
      continue;
    }
    const before = preexisting(finding);
    const action = resolveAction(finding);
    const later = action === 'deny' && !before ? enforcedLater(finding.policy, now) : undefined;
    // Said first, so the date survives the 120-character cut of a kubectl warning.
    if (later)
      findings.push({
        ...finding,
        message: `enforced from ${later}: ${finding.message}`,
        action: 'warn',
        preexisting: false,
      });
    else findings.push({ ...finding, action: before && action === 'deny' ? 'warn' : action, preexisting: before });
  }
  return findings;
}
