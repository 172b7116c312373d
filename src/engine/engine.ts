import { buildCapabilityTable, type CapabilityTable } from '../core/capabilities.js';
import type { JsonObject } from '../core/json.js';
import { applyOperations, type PatchOperation } from '../core/patch.js';
import { claimsOf, type GovernedKind } from '../core/storage.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import type { Action, Policy } from '../policy/model.js';
import { accessModesFamily } from '../rules/access-modes.js';
import { capacityFamily } from '../rules/capacity.js';
import { iopsFamily } from '../rules/iops.js';
import { storageClassFamily } from '../rules/storage-class.js';
import { zonesFamily } from '../rules/zones.js';
import { PolicyIndex } from './policy-index.js';
import type { Finding, Mutation, Operation, ReviewInput, RuleContext, RuleFamily } from './types.js';

/** Order matters for mutation: IOPS quotes and zone checks read the class that defaulting set. */
export const RULE_FAMILIES: readonly RuleFamily[] = [storageClassFamily, accessModesFamily, zonesFamily, iopsFamily, capacityFamily];
const MUTATING_FAMILIES = RULE_FAMILIES.filter((family) => family.mutates);

/** Fields an UPDATE may change (domain.md, Immutability); no patch on UPDATE leaves them. */
const MUTABLE_ON_UPDATE: Record<GovernedKind, readonly string[]> = {
  PersistentVolumeClaim: ['/metadata/'],
  StatefulSet: ['/metadata/', '/spec/template/', '/spec/template'],
  StorageClass: ['/metadata/', '/allowedTopologies', '/mountOptions', '/allowVolumeExpansion'],
};

export function patchAllowedOnUpdate(kind: GovernedKind, operation: PatchOperation): boolean {
  return MUTABLE_ON_UPDATE[kind].some((prefix) => operation.path === prefix || operation.path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`));
}

export interface ResolvedFinding extends Finding {
  action: Action;
  /** Already present in oldObject: never denied on UPDATE, only warned. */
  preexisting: boolean;
}

export interface MutationOutcome {
  patch: PatchOperation[];
  notes: Mutation[];
  object: JsonObject;
  policies: Policy[];
  /** Mutations that could not be applied to this object (a malformed shape), left out of the patch. */
  skipped: string[];
}

export interface ValidationOutcome {
  findings: ResolvedFinding[];
  policies: Policy[];
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

/** The one engine the server, the CLI and the tests share. Immutable: a new policy set is a new engine. */
export class Engine {
  private readonly index: PolicyIndex;
  private readonly capabilityTables = new WeakMap<Policy, CapabilityTable>();

  constructor(
    readonly policies: readonly Policy[],
    readonly lookup: ClusterLookup,
  ) {
    this.index = new PolicyIndex(policies);
  }

  private capabilitiesFor = (policy: Policy): CapabilityTable => {
    let table = this.capabilityTables.get(policy);
    if (!table) {
      table = buildCapabilityTable(policy.accessModes?.capabilities);
      this.capabilityTables.set(policy, table);
    }
    return table;
  };

  private context(phase: RuleContext['phase'], input: ReviewInput, object: JsonObject, policies: Policy[], operation: Operation = input.operation): RuleContext {
    return {
      phase,
      kind: input.kind,
      operation,
      namespace: input.namespace,
      object,
      oldObject: input.oldObject,
      claims: claimsOf(input.kind, object, input.namespace),
      policies,
      lookup: this.lookup,
      capabilitiesFor: this.capabilitiesFor,
    };
  }

  /** Runs every family in order, each on the object as the earlier families' patches left it. */
  mutate(input: ReviewInput): MutationOutcome {
    const { policies } = this.index.match(input.kind, input.namespace, this.lookup);
    let object = input.object;
    const patch: PatchOperation[] = [];
    const notes: Mutation[] = [];
    const skipped: string[] = [];
    if (policies.length === 0) return { patch, notes, object, policies, skipped };
    for (const family of MUTATING_FAMILIES) {
      const { mutations } = family.evaluate(this.context('mutate', input, object, policies));
      for (const mutation of mutations) {
        const operations = input.operation === 'UPDATE' ? mutation.patch.filter((operation) => patchAllowedOnUpdate(input.kind, operation)) : mutation.patch;
        if (operations.length === 0) continue;
        try {
          object = applyOperations(object, operations) as JsonObject;
        } catch (error) {
          skipped.push(`${mutation.rule}: ${(error as Error).message.split('\n')[0]}`);
          continue;
        }
        patch.push(...operations);
        notes.push({ ...mutation, patch: operations });
      }
    }
    return { patch, notes, object, policies, skipped };
  }

  private findings(input: ReviewInput, object: JsonObject, policies: Policy[]): Finding[] {
    const context = this.context('validate', input, object, policies);
    return RULE_FAMILIES.flatMap((family) => family.evaluate(context).findings);
  }

  /**
   * Judges the object as it will be stored. On UPDATE a finding that oldObject already had is only
   * warned: immutable fields cannot be fixed, and scaling an old object must keep working.
   */
  validate(input: ReviewInput): ValidationOutcome {
    const { policies, findings: matchFindings } = this.index.match(input.kind, input.namespace, this.lookup);
    if (policies.length === 0 && matchFindings.length === 0) return { findings: [], policies };
    const raw = [...matchFindings, ...this.findings(input, input.object, policies)];
    const before = input.operation === 'UPDATE' && input.oldObject ? new Set(this.findings({ ...input, object: input.oldObject }, input.oldObject, policies).map(findingKey)) : new Set<string>();
    const seen = new Set<string>();
    const findings: ResolvedFinding[] = [];
    for (const finding of raw) {
      const dedupe = `${finding.rule}\u0000${finding.path}\u0000${finding.message}`;
      if (seen.has(dedupe)) continue;
      seen.add(dedupe);
      const preexisting = before.has(findingKey(finding));
      const action = resolveAction(finding);
      findings.push({ ...finding, action: preexisting && action === 'deny' ? 'warn' : action, preexisting });
    }
    return { findings, policies };
  }

  /** What the API server does in sequence: this webhook's mutation, then validation of the result. */
  review(input: ReviewInput): { mutation: MutationOutcome; validation: ValidationOutcome } {
    const mutation = this.mutate(input);
    const validation = this.validate({ ...input, object: mutation.object });
    return { mutation, validation };
  }
}
