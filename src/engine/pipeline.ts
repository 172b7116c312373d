import { objectAt, stringAt, type JsonObject } from '../core/json.js';
import { claimTemplateCount } from '../core/storage.js';
import type { PatchOperation } from '../core/patch.js';
import { governedKindOfManifest, isClusterScoped, type GovernedKind } from '../core/kinds.js';
import type { Mutation, Operation, ReviewInput } from '../rules/contract.js';
import type { Engine, ResolvedFinding } from './engine.js';
import { auditAnnotationsFor, denialMessage, warningsFor } from './report.js';

// The one review pipeline: the webhook, `storage-policy review`, `storage-policy test` and the unit
// helpers all build their input and reach their decision here, so they decide alike by construction.

interface ReviewRequest {
  object: JsonObject;
  operation: Operation;
  oldObject?: JsonObject | undefined;
  /** The namespace the request is in (an AdmissionRequest's); wins over metadata.namespace. */
  namespace?: string | undefined;
  /** For manifests with no namespace and no request namespace, as kubectl's -n. */
  defaultNamespace?: string | undefined;
  /** An AdmissionRequest's kind, when it says; else the manifest's apiVersion and kind. */
  kind?: GovernedKind | undefined;
  name?: string | undefined;
  requester?: string | undefined;
}

/** The review input for an object; undefined when its kind is not one this webhook governs. */
export function reviewInputOf(request: ReviewRequest): ReviewInput | undefined {
  const kind = request.kind ?? governedKindOfManifest(request.object);
  if (!kind) return undefined;
  const metadata = objectAt(request.object, 'metadata');
  const namespace = isClusterScoped(kind)
    ? ''
    : request.namespace || stringAt(metadata, 'namespace') || request.defaultNamespace || 'default';
  return {
    kind,
    operation: request.operation,
    namespace,
    name: request.name || stringAt(metadata, 'name') || stringAt(metadata, 'generateName') || '',
    object: request.object,
    oldObject: request.operation === 'UPDATE' ? request.oldObject : undefined,
    ...(request.requester === undefined ? {} : { requester: request.requester }),
  };
}

/** What fired: a finding with its action, or a mutation. */
export interface Fired {
  policy: string;
  rule: string;
  action: 'deny' | 'warn' | 'audit' | 'mutate' | 'exempted';
}

/**
 * Which webhook this review stands for: `mutate` patches only (judging is the validating webhook's job, on
 * the final object), `validate` judges only, `both` is what the API server does with the two in sequence.
 */
export type ReviewStage = 'mutate' | 'validate' | 'both';

export interface Decision {
  allowed: boolean;
  /** The denial as kubectl shows it: every denying finding, numbered. */
  message: string | undefined;
  warnings: string[];
  auditAnnotations: Record<string, string>;
  patch: PatchOperation[];
  notes: Mutation[];
  /** Mutations left out because they did not apply to this object's shape. */
  skippedMutations: string[];
  /** The object after the patch. */
  object: JsonObject;
  findings: ResolvedFinding[];
  fired: Fired[];
}

/**
 * The most claim templates (a StatefulSet's volumeClaimTemplates, a pod spec's ephemeral volumes) one object may
 * have for the webhook to judge it. The API server sets no limit (16,000 fit in one object), and judging each
 * costs the event loop time every other review waits for; real workloads have a handful. Beyond it a CREATE is
 * denied in microseconds, and an UPDATE (an object that existed before the webhook) is allowed with a warning,
 * unjudged.
 */
export const MAX_TEMPLATES_PER_OBJECT = 64;

function overLimit(input: ReviewInput, stage: ReviewStage): Decision | undefined {
  const templates = claimTemplateCount(input.kind, input.object);
  if (templates <= MAX_TEMPLATES_PER_OBJECT) return undefined;
  const field = input.kind === 'StatefulSet' ? 'spec.volumeClaimTemplates' : 'volumes';
  const what = `${field}: ${templates} claim templates exceed the ${MAX_TEMPLATES_PER_OBJECT} this webhook judges per ${input.kind}`;
  const deny = input.operation === 'CREATE' && stage !== 'mutate';
  return {
    allowed: !deny,
    message: deny
      ? `${what}; split the workload into ones of at most ${MAX_TEMPLATES_PER_OBJECT} claim templates`
      : undefined,
    warnings: deny ? [] : [`${what}; not judged`.slice(0, 120)],
    auditAnnotations: {},
    patch: [],
    notes: [],
    skippedMutations: [],
    object: input.object,
    findings: [],
    fired: [],
  };
}

export function decide(engine: Engine, input: ReviewInput, stage: ReviewStage): Decision {
  const bounded = overLimit(input, stage);
  if (bounded) return bounded;
  const mutation =
    stage === 'validate' ? { patch: [], notes: [], object: input.object, skippedMutations: [] } : engine.mutate(input);
  const findings = stage === 'mutate' ? [] : engine.validate({ ...input, object: mutation.object });
  const denials = findings.filter((finding) => finding.action === 'deny');
  return {
    allowed: denials.length === 0,
    message: denials.length > 0 ? denialMessage(denials) : undefined,
    warnings: warningsFor(findings, mutation.notes),
    auditAnnotations: auditAnnotationsFor(findings),
    patch: mutation.patch,
    notes: mutation.notes,
    skippedMutations: mutation.skippedMutations,
    object: mutation.object,
    findings,
    fired: [
      ...mutation.notes.map((note): Fired => ({ policy: note.policy.name, rule: note.rule, action: 'mutate' })),
      ...findings.map((finding): Fired => ({
        policy: finding.policy.name,
        rule: finding.rule,
        action: finding.exemption ? 'exempted' : finding.action,
      })),
    ],
  };
}
