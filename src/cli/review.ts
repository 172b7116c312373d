import { stringAt, type JsonObject } from '../core/json.js';
import type { PatchOperation } from '../core/patch.js';
import type { Engine, ResolvedFinding } from '../engine/engine.js';
import { decide, reviewInputOf } from '../engine/pipeline.js';
import { describeFinding } from '../engine/report.js';
import type { Manifest } from '../io/manifests.js';

interface ReviewResult {
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

/** Runs each manifest through the review pipeline as a CREATE, mutation first and validation of the result, as the API server would. */
export function reviewManifests(engine: Engine, manifests: Manifest[], defaultNamespace: string): ReviewResult[] {
  return manifests.map(({ object, source }) => {
    const input = reviewInputOf({ object, operation: 'CREATE', defaultNamespace });
    const base = { source, kind: stringAt(object, 'kind') ?? '', denials: [], warnings: [], audit: [], patch: [] };
    if (!input)
      return {
        ...base,
        name: stringAt(object, 'metadata', 'name') ?? '',
        namespace: stringAt(object, 'metadata', 'namespace') ?? '',
        decision: 'skipped',
        reason: 'kind not governed',
      };
    const verdict = decide(engine, input, 'both');
    const byAction = (action: ResolvedFinding['action']): string[] =>
      verdict.findings.filter((finding) => finding.action === action).map(describeFinding);
    return {
      ...base,
      name: input.name,
      namespace: input.namespace,
      decision: verdict.allowed ? 'allowed' : 'denied',
      denials: byAction('deny'),
      warnings: verdict.warnings,
      audit: byAction('audit'),
      patch: verdict.patch,
      ...(verdict.patch.length > 0 ? { patched: verdict.object } : {}),
    };
  });
}

export function formatReviewText(results: ReviewResult[], stringify: (value: unknown) => string): string {
  const lines: string[] = [];
  for (const result of results) {
    if (result.decision === 'skipped') continue;
    const where = result.namespace ? `${result.namespace}/${result.name}` : result.name;
    lines.push(`${result.kind} ${where} (${result.source}): ${result.decision.toUpperCase()}`);
    result.denials.forEach((denial) => lines.push(`  deny     ${denial}`));
    result.warnings.forEach((warning) => lines.push(`  warning  ${warning}`));
    result.audit.forEach((audit) => lines.push(`  audit    ${audit}`));
    if (result.patched) {
      const text = stringify(result.patched).trimEnd().split('\n');
      lines.push('  patched object:', ...text.map((line) => `    ${line}`));
    }
  }
  const reviewed = results.filter((result) => result.decision !== 'skipped');
  const denied = reviewed.filter((result) => result.decision === 'denied').length;
  lines.push(
    `${reviewed.length} object(s) reviewed, ${denied} denied, ${results.length - reviewed.length} skipped (kinds not governed)`,
  );
  return lines.join('\n');
}
