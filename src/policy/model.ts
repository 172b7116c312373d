import type { GovernedKind } from '../core/kinds.js';
import type { Action, StoragePolicy, StoragePolicyException } from './schema-types.js';

export const OWNER_ANNOTATION = 'storage-policy-webhook.io/owner';

export type { Action };

/** A policy's spec as the schema defines it (src/policy/schema-types.ts is generated from schema/). */
type PolicySpec = StoragePolicy['spec'];
type LookupFailureMode = NonNullable<PolicySpec['lookupFailure']>;

/** Every rule a policy can set an action for: the keys of spec.rules in the schema. */
export type RuleId = keyof NonNullable<PolicySpec['rules']>;

/**
 * The ids a mutation carries (in warnings, metrics, the audit and test suites' expect.rules); each family
 * declares which of them it writes and the finding rules each one serves.
 */
export const MUTATION_IDS = [
  'storage-class/default',
  'storage-class/restore',
  'storage-class/fallback',
  'zones/pin',
  'zones/replace-deprecated-label',
  'zones/add-allowed-topologies',
  'iops/quote',
  'attributes-class/default',
  'cost/quote',
] as const;
export type MutationId = (typeof MUTATION_IDS)[number];

/** The spec sections rule families read: a family runs for the policies that have one of its sections. */
export const POLICY_SECTIONS = [
  'storageClasses',
  'accessModes',
  'zones',
  'iops',
  'capacity',
  'providerLimits',
  'claimMetadata',
  'classRequirements',
  'volumeAttributesClasses',
  'persistentVolumes',
  'dataSources',
  'inlineVolumes',
  'cost',
] as const satisfies ReadonlyArray<keyof PolicySpec>;
export type PolicySection = (typeof POLICY_SECTIONS)[number];

type Sections = Pick<PolicySpec, PolicySection>;
export type DefaultClassChoice = NonNullable<NonNullable<Sections['storageClasses']>['defaults']>[number];
export type MetadataRequirement = NonNullable<Sections['claimMetadata']>['required'][number];
export type ParameterRequirement = NonNullable<NonNullable<Sections['classRequirements']>['parameters']>[number];

/** A loaded policy: its spec with the defaults filled in, and where it came from. */
export interface Policy extends Sections {
  name: string;
  file: string;
  owner: string | undefined;
  priority: number;
  action: Action;
  lookupFailure: LookupFailureMode;
  /** RFC 3339: before this instant the policy's deny findings are warnings (dated enforcement). */
  enforceFrom?: string;
  /** What StoragePolicyExceptions may do with this policy. */
  exceptions?: PolicySpec['exceptions'];
  match: Omit<PolicySpec['match'], 'kinds'> & { kinds: GovernedKind[] };
  /** Prices overriding the built-in table, per type (rules/cost.ts, composeCost: the highest-precedence policy's wins). */
  prices?: PolicySpec['prices'];
  rules: NonNullable<PolicySpec['rules']>;
}

/** Policies in precedence order: higher priority first, then name ascending. */
/**
 * What the schema cannot say about one policy (bounds out of order, a pattern that does not compile, a class the
 * policy writes and itself forbids): where, from the document's root, and what to do.
 */
export interface PolicyProblem {
  path: Array<string | number>;
  message: string;
}

/** The checks of a policy beyond its schema, by whoever owns its sections (engine/policies.ts: the rule families). */
export type PolicyChecks = (policy: Policy) => PolicyProblem[];

export function byPrecedence(a: Policy, b: Policy): number {
  return b.priority - a.priority || a.name.localeCompare(b.name);
}

/**
 * A StoragePolicyException: named objects exempted from named rules of named policies, with an owner, a reason and an
 * expiry (or permanent). Its findings are reported, never enforced.
 */
export interface PolicyException {
  name: string;
  file: string;
  owner: string;
  reason: string;
  /** RFC 3339; undefined only when permanent. */
  expiresAt: string | undefined;
  permanent: boolean;
  policies: StoragePolicyException['spec']['policies'];
  match: StoragePolicyException['spec']['match'];
}
