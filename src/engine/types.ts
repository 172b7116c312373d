import type { CapabilityTable } from '../core/capabilities.js';
import type { JsonObject } from '../core/json.js';
import type { PatchOperation } from '../core/patch.js';
import type { Claim, GovernedKind } from '../core/storage.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import type { Action, Policy, RuleId } from '../policy/model.js';

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
}

export interface Mutation {
  rule: string;
  policy: Policy;
  patch: PatchOperation[];
  /** Shown to the user as a warning: what was changed and why. */
  note: string;
}

export interface RuleResult {
  findings: Finding[];
  mutations: Mutation[];
}

export interface RuleContext {
  /** mutate: only mutations are used, so families may skip finding work; validate: only findings. */
  phase: 'mutate' | 'validate';
  kind: GovernedKind;
  operation: Operation;
  namespace: string;
  /** The object as it stands, after the mutations of earlier families. */
  object: JsonObject;
  oldObject: JsonObject | undefined;
  claims: Claim[];
  /** Matching policies in precedence order. */
  policies: Policy[];
  lookup: ClusterLookup;
  capabilitiesFor(policy: Policy): CapabilityTable;
}

/** One rule family: a pure function of the object and its context. */
export interface RuleFamily {
  name: string;
  /** Whether the family ever patches; families that only judge are not run in the mutate phase. */
  mutates: boolean;
  evaluate(context: RuleContext): RuleResult;
}

export function emptyResult(): RuleResult {
  return { findings: [], mutations: [] };
}
