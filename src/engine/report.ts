import type { ResolvedFinding } from './engine.js';
import type { Mutation } from '../rules/contract.js';

export const MAX_WARNING_LENGTH = 120;
/** The API server truncates the warnings of one response beyond 4096 runes; stay under it. */
export const MAX_WARNINGS_TOTAL = 4000;

const NEEDS_FOLDING = /[\r\n\t]|\s\s|^\s|\s$/;

function oneLine(text: string): string {
  if (!NEEDS_FOLDING.test(text)) return text;
  return text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

/** What a finding says, wherever it is shown: its field, message, policy and rule. */
interface FindingText {
  path: string;
  message: string;
  policy: string;
  rule: string;
  preexisting?: boolean;
}

export function describeFinding(finding: FindingText): string {
  const prefix = finding.preexisting ? 'already present before this update: ' : '';
  return `${finding.path}: ${prefix}${finding.message} [policy ${finding.policy}, rule ${finding.rule}]`;
}

/** Denials the message spells out; the rest are counted ("and K more"), so a huge object gets a short answer. */
export const MAX_DENIALS_SHOWN = 20;

/** The denying findings, numbered, with path, policy, rule and fix, on one line as kubectl prints it. */
export function denialMessage(denials: ResolvedFinding[]): string {
  const shown = denials
    .slice(0, MAX_DENIALS_SHOWN)
    .map((finding, index) => `(${index + 1}) ${oneLine(describeFinding({ ...finding, policy: finding.policy.name }))}`);
  const more = denials.length > MAX_DENIALS_SHOWN ? `; and ${denials.length - MAX_DENIALS_SHOWN} more` : '';
  return `${denials.length} storage policy violation${denials.length === 1 ? '' : 's'}: ${shown.join('; ')}${more}`;
}

/** Cuts at `limit` UTF-16 units (runes for the ASCII this writes), without splitting every string into characters. */
function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const end = /[\ud800-\udbff]/.test(text[limit - 2] ?? '') ? limit - 2 : limit - 1;
  return `${text.slice(0, end)}…`;
}

/**
 * Warnings for kubectl: one line each, at most 120 characters, deduplicated, and in total under
 * the API server's budget. The path and rule come first so a truncated warning still points somewhere.
 */
export function warningsFor(findings: ResolvedFinding[], notes: Mutation[] = []): string[] {
  const lines = [
    ...notes.map((note) => `mutated: ${note.note}`),
    ...findings
      .filter((finding) => finding.action === 'warn')
      .map((finding) =>
        finding.exemption
          ? `${finding.rule}: ${finding.exemption.note}`
          : `${finding.rule}: ${finding.path}: ${finding.preexisting ? '(existing) ' : ''}${finding.message}`,
      ),
  ];
  const result: string[] = [];
  const seen = new Set<string>();
  let total = 0;
  let dropped = 0;
  for (const line of lines) {
    const warning = truncate(oneLine(line), MAX_WARNING_LENGTH);
    if (seen.has(warning)) continue;
    seen.add(warning);
    const length = warning.length;
    // Room is kept for the closing "and K more" line.
    if (dropped > 0 || total + length > MAX_WARNINGS_TOTAL - 40) {
      dropped += 1;
      continue;
    }
    result.push(warning);
    total += length;
  }
  if (dropped > 0) result.push(`… and ${dropped} more warning${dropped === 1 ? '' : 's'}`);
  return result;
}

const AUDIT_VALUE_LIMIT = 1024;

/**
 * auditAnnotations keys must be qualified names without a `/` (the API server prefixes the webhook
 * name): rule ids become `iops.adjusted`.
 */
export function auditAnnotationsFor(findings: ResolvedFinding[]): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const finding of findings) {
    if (finding.action !== 'audit') continue;
    const key = finding.rule.replace(/\//g, '.');
    const entry = `${finding.policy.name}: ${finding.path}: ${finding.message}`;
    annotations[key] = truncate(annotations[key] ? `${annotations[key]}; ${entry}` : entry, AUDIT_VALUE_LIMIT);
  }
  return annotations;
}
