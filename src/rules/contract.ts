// The rule contract: what a rule family receives and returns. Every layer from the rules up imports it; it imports
// only types, from the pure core, the lookup interface and the policy model.
import type { CapabilityTable } from '../core/capabilities.js';
import type { JsonObject } from '../core/json.js';
import type { PatchOperation } from '../core/patch.js';
import type { EbsLimits } from '../core/ebs.js';
import type { PriceTable } from '../core/prices.js';
import type { InlineCsiVolume } from '../core/inline-volumes.js';
import type { PersistentVolumeInfo } from '../core/volumes.js';
import type { AttributesClassInfo, Claim, StorageClassInfo } from '../core/storage.js';
import type { GovernedKind } from '../core/kinds.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import type {
  Action,
  DefaultClassChoice,
  MutationId,
  Policy,
  PolicyProblem,
  PolicySection,
  RuleId,
} from '../policy/model.js';

export type Operation = 'CREATE' | 'UPDATE';

/** One object to judge, as an AdmissionReview request or an offline manifest gives it. */
export interface ReviewInput {
  kind: GovernedKind;
  operation: Operation;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
  object: JsonObject;
  oldObject?: JsonObject | undefined;
  /** The user the API server says made the request (userInfo.username); offline there is none. */
  requester?: string | undefined;
}

/**
 * Where a claim's class comes from: written in the object, or (no class written) the one the claim will
 * get when it is created: the cluster default the API server's DefaultStorageClass plugin sets, else the
 * policies' default that this webhook sets.
 */
type ClassOrigin = 'written' | 'cluster-default' | 'policy-default';

export type ResolvedClass =
  | { state: 'no-class' }
  | { state: 'unknown'; name: string; origin: ClassOrigin; reason: string }
  | { state: 'missing'; name: string; origin: ClassOrigin }
  | { state: 'found'; name: string; origin: ClassOrigin; info: StorageClassInfo };

/**
 * A claim's VolumeAttributesClass: written, or (none written) the policies' default the claim gets when created,
 * so a claim is judged with the VAC it will have, as it is with the class it will have.
 */
export type ResolvedAttributesClass =
  | { state: 'none' }
  | { state: 'unknown'; name: string; reason: string }
  | { state: 'missing'; name: string }
  | { state: 'found'; name: string; info: AttributesClassInfo; origin: 'written' | 'policy-default' };

/** A claim read once per review: its fields, and its class and VolumeAttributesClass resolved against the cluster data. */
export interface ReviewedClaim extends Claim {
  storageClass: ResolvedClass;
  attributesClass: ResolvedAttributesClass;
}

/**
 * How the governing policies combine for the settings that mutate: each family composes its own (composeSettings in
 * rules/registry.ts assembles them, and the compiler asks for every field). Judging settings are not composed: every
 * policy judges on its own and an object must satisfy them all.
 */
export interface ComposedSettings {
  /**
   * Classes every policy accepts (in every allow list, in no deny list), for messages that name what to use
   * instead; undefined when no policy has an allow list. A message never names a class another policy forbids.
   */
  admissibleClasses: readonly string[] | undefined;
  /** Whether every policy accepts a class by its allow and deny lists. */
  classAccepted(name: string): boolean;
  /** The VolumeAttributesClass a claim created without one gets: the first default, in precedence order, every policy allows. */
  attributesClassDefault: { policy: Policy; name: string } | undefined;
  /** The class a forbidden one is rewritten to: the first fallback, in precedence order, every policy accepts. */
  fallback: { policy: Policy; class: string } | undefined;
  /** The default for a claim: the first applicable choice, in precedence order, that every policy allows. */
  defaultClassFor(claim: Claim): { policy: Policy; choice: DefaultClassChoice } | undefined;
  /** Zones every zone policy allows, and the policy the mutations are credited to (highest precedence). */
  zones: { allowed: string[]; policy: Policy; pinStatefulSets: boolean; addAllowedTopologies: boolean } | undefined;
  /** The policy whose quote annotations the claims get (highest precedence with annotateQuote on). */
  quoteAnnotator: Policy | undefined;
  /** The price table claims are quoted with, and the policy that set each type's price (the built-in table otherwise). */
  prices: { table: PriceTable; setBy: Record<string, string> };
  /** EBS limits of a volume type: the facts table, with the highest-precedence policy override for that type. */
  ebsLimitsFor(type: string): EbsLimits | undefined;
}

export interface Finding {
  rule: RuleId;
  policy: Policy;
  /** Field path in the object, as `spec.accessModes[0]`. */
  path: string;
  /** What is wrong and what to do instead. */
  message: string;
  /** A violation takes the policy's action; advice is a warning unless a rule override says otherwise. */
  severity: 'violation' | 'advice';
  /** Set where the policy configures the action elsewhere (unknownProvisioner, lookupFailure). */
  action?: Action;
  /** A lookup/unavailable finding: what was not checked and why, so the engine can say it once per field. */
  unchecked?: { what: string; reason: string };
  /**
   * What a budget finding's object asks (IOPS, MiB/s, money a month): on UPDATE the finding is only warned as existing
   * while the object asks no more than its old version did.
   */
  amount?: number;
}

export interface Mutation {
  rule: MutationId;
  policy: Policy;
  patch: PatchOperation[];
  /** Shown to the user as a warning: what was changed and why. */
  note: string;
  /**
   * A substitution (the fallback class) rather than a completion: kept only when the patched object is then
   * admitted. A rewrite that would still be denied is dropped, so the denial names what the user wrote.
   */
  onlyIfAdmitted?: boolean;
}

/** What a family judges on one kind: the findings of the object in context (the validate phase). */
type Validator = (context: RuleContext) => Finding[];

/** What a family writes on one kind: the mutations of the object in context (the mutate phase). */
type Mutator = (context: RuleContext) => Mutation[];

/** Where `explain` describes a family: the namespace, the cluster data it has, the governing policies' composed settings. */
export interface DescribeScope {
  namespace: string;
  lookup: ClusterLookup;
  settings: ComposedSettings;
}

export interface RuleContext {
  kind: GovernedKind;
  operation: Operation;
  namespace: string;
  /** The object as it stands, after the mutations of earlier families. */
  object: JsonObject;
  oldObject: JsonObject | undefined;
  claims: ReviewedClaim[];
  /** A PersistentVolume under review, read once; undefined for every other kind. */
  volume: PersistentVolumeInfo | undefined;
  /** The CSI inline volumes of the object's pod spec; empty for a kind without one. */
  inlineVolumes: InlineCsiVolume[];
  /** The governing policies that have one of the family's sections, in precedence order: the ones it judges for. */
  policies: Policy[];
  /** Every governing policy, in precedence order: what a family's fact rules and fact mutations are judged for. */
  governing: Policy[];
  settings: ComposedSettings;
  lookup: ClusterLookup;
  capabilitiesFor(policy: Policy): CapabilityTable;
  /** The engine's clock (epoch ms): what time-dependent rules (an idle claim's age) read, so the CLI's --now holds. */
  now: number;
}

/**
 * A field of a PersistentVolumeClaim a family reads. Annotations are read except the ones the volume controllers
 * write (pv.kubernetes.io/*, volume.kubernetes.io/*, volume.beta.kubernetes.io/storage-provisioner).
 */
export type ClaimField =
  | 'spec.resources'
  | 'spec.storageClassName'
  | 'spec.volumeAttributesClassName'
  | 'spec.accessModes'
  | 'spec.volumeMode'
  | 'metadata.labels'
  | 'metadata.annotations';

/** A mutation a family writes, and the finding rules it serves: an exception that exempts from those stops it too. */
interface MutationDeclaration {
  id: MutationId;
  serves: readonly RuleId[];
  /** Written for every governing policy, whatever its sections: keeping a write legal, not a setting. */
  fact?: boolean;
}

/** How a lint check reports: how bad, the check's name, the policy and field it concerns, and what to do. */
export type LintReport = (
  severity: 'error' | 'warning',
  check: string,
  policy: Policy,
  path: Array<string | number>,
  message: string,
) => void;

/** What `storage-policy lint` checks of a family's settings beyond loading: settings that can never work or apply. */
export interface FamilyLint {
  /** Sections of its whose settings are all opt-in, so an empty one is a mistake (lint warns: empty-section). */
  optInSections?: readonly PolicySection[];
  /** One policy's settings against its own match and sections (a setting for a kind the policy does not govern). */
  policy?(policy: Policy, report: LintReport): void;
  /** Two policies that may govern the same claims (lint decides that; `a` comes first in the set): what leaves nothing admissible. */
  pair?(a: Policy, b: Policy, report: LintReport): void;
  /** One policy against an inventory of the cluster (classes it names that do not exist, or cannot serve it). */
  inventory?(policy: Policy, inventory: ClusterLookup, report: LintReport): void;
}

/**
 * One rule family: pure handlers of the object and its context, per kind and phase, and what it declares about
 * itself. The engine, lint, explain and the docs test all read these declarations, so they cannot disagree with
 * what the family does.
 */
export interface RuleFamily {
  name: string;
  /** The policy sections it reads: it runs for the governing policies that have one (context.policies). */
  sections: readonly PolicySection[];
  /** Every rule id its findings carry. */
  ruleIds: readonly RuleId[];
  /**
   * Rule ids judged for every policy that governs the kind, whatever its sections (context.governing): facts of the
   * provisioners (a claim that can never be provisioned), not settings a policy opts into.
   */
  factRules: readonly RuleId[];
  /** Every mutation it writes; none: it only judges. */
  mutations: readonly MutationDeclaration[];
  /**
   * What of a PersistentVolumeClaim it reads, to judge or to patch. A claim UPDATE that changes none of the fields
   * any family reads cannot change the decision (what it had before is ratcheted), so the webhook configurations'
   * matchConditions keep it from the webhook (admission/match-conditions.ts): the PV controller's binding updates
   * then never depend on the webhook being up.
   */
  claimFields: readonly ClaimField[];
  /**
   * What it does with this policy's settings on objects of this kind, one line each, for `storage-policy explain`;
   * `scope` is where it is explained, for what the cluster data says there (a budget's use).
   */
  describe(policy: Policy, kind: GovernedKind, governing: readonly Policy[], scope: DescribeScope): string[];
  /**
   * What it judges, per kind. The kinds it handles are the keys of `validate` and `mutate` (kindsOf): the engine
   * calls a handler only for its kind and phase, so no family branches on either.
   */
  validate: Partial<Record<GovernedKind, Validator>>;
  /** What it writes, per kind; every id it writes is among `mutations`. */
  mutate: Partial<Record<GovernedKind, Mutator>>;
  /**
   * What the schema cannot say about its own sections, checked when a policy that has one loads (any problem rejects
   * the set, and the last good one stays): bounds in order, patterns that compile, a class it writes and forbids.
   */
  checkPolicy?(policy: Policy): PolicyProblem[];
  /** Its lint checks, beside the ones lint makes of every family from these declarations. */
  lint?: FamilyLint;
}

/** The kinds a family handles, in one phase or the other. */
export function kindsOf(family: RuleFamily): GovernedKind[] {
  return [...new Set([...Object.keys(family.validate), ...Object.keys(family.mutate)])] as GovernedKind[];
}

/** Whether the family judges or writes anything for a policy without its sections. */
export function hasFacts(family: RuleFamily): boolean {
  return family.factRules.length > 0 || family.mutations.some((mutation) => mutation.fact === true);
}

/** Whether a policy has one of the family's sections. */
export function configures(policy: Policy, family: RuleFamily): boolean {
  return family.sections.some((section) => policy[section] !== undefined);
}
