import { stringAt, type JsonObject } from '../core/json.js';
import { applyOperations, type PatchOperation } from '../core/patch.js';
import { governedKindOfManifest } from '../core/storage.js';
import type { Engine, ResolvedFinding } from '../engine/engine.js';
import { describeFinding, warningsFor } from '../engine/report.js';
import type { Manifest } from '../io/manifests.js';

export interface ReviewResult {
  source: string;
  kind: string;
  namespace: string;
  name: string;
  decision: 'allowed' | 'denied' | 'skipped';
  reason?: string;
  denials: string[];
  warnings: string[];
  audit: string[];
  patch: PatchOperation[];
  patched?: JsonObject;
}

/** Runs each manifest through the engine as a CREATE, mutation first and validation of the result, as the API server would. */
export function reviewManifests(engine: Engine, manifests: Manifest[], defaultNamespace: string): ReviewResult[] {
  return manifests.map(({ object, source }) => {
    const kind = governedKindOfManifest(object);
    const name = stringAt(object, 'metadata', 'name') ?? stringAt(object, 'metadata', 'generateName') ?? '';
    const base = { source, kind: stringAt(object, 'kind') ?? '', name, denials: [], warnings: [], audit: [], patch: [] };
    if (!kind) return { ...base, namespace: stringAt(object, 'metadata', 'namespace') ?? '', decision: 'skipped', reason: 'kind not governed' };
    const namespace = kind === 'StorageClass' ? '' : (stringAt(object, 'metadata', 'namespace') ?? defaultNamespace);
    const { mutation, validation } = engine.review({ kind, operation: 'CREATE', namespace, name, object });
    const byAction = (action: ResolvedFinding['action']): string[] => validation.findings.filter((finding) => finding.action === action).map(describeFinding);
    const denials = byAction('deny');
    const patched = mutation.patch.length > 0 ? applyOperations(object, mutation.patch) as JsonObject : undefined;
    return {
      ...base,
      namespace,
      decision: denials.length > 0 ? 'denied' : 'allowed',
      denials,
      warnings: warningsFor(validation.findings, mutation.notes),
      audit: byAction('audit'),
      patch: mutation.patch,
      ...(patched ? { patched } : {}),
    };
  });
}

export function formatReviewText(results: ReviewResult[], showPatched: boolean, stringify: (value: unknown) => string): string {
  const lines: string[] = [];
  for (const result of results) {
    if (result.decision === 'skipped') continue;
    const where = result.namespace ? `${result.namespace}/${result.name}` : result.name;
    lines.push(`${result.kind} ${where} (${result.source}): ${result.decision.toUpperCase()}`);
    result.denials.forEach((denial) => lines.push(`  deny     ${denial}`));
    result.warnings.forEach((warning) => lines.push(`  warning  ${warning}`));
    result.audit.forEach((audit) => lines.push(`  audit    ${audit}`));
    if (result.patch.length > 0) {
      if (showPatched && result.patched) lines.push('  patched object:', ...stringify(result.patched).trimEnd().split('\n').map((line) => `    ${line}`));
      else lines.push('  patch:', ...result.patch.map((operation) => `    ${JSON.stringify(operation)}`));
    }
  }
  const reviewed = results.filter((result) => result.decision !== 'skipped');
  const denied = reviewed.filter((result) => result.decision === 'denied').length;
  lines.push(`${reviewed.length} object(s) reviewed, ${denied} denied, ${results.length - reviewed.length} skipped (kinds not governed)`);
  return lines.join('\n');
}
