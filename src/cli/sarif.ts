import { relative } from 'node:path';
import { VERSION } from './version.js';

// SARIF 2.1.0 (OASIS), what GitHub code scanning and other CI annotators read: one run of this tool, a result per
// finding at the file, line and column it concerns, rules described once in the driver.

export interface SarifResult {
  /** A rule id, or a lint check's name. */
  rule: string;
  /** What the rule is, said once in the run's rule list. */
  ruleDescription: string;
  level: 'error' | 'warning' | 'note';
  message: string;
  file: string;
  line: number;
  column: number;
}

/** Paths relative to the working directory, with forward slashes, as code scanning matches them to the repository. */
function artifactUri(file: string): string {
  if (file === '-') return 'stdin';
  const relativePath = relative(process.cwd(), file);
  return (relativePath.startsWith('..') ? file : relativePath).split('\\').join('/');
}

export function sarifLog(results: readonly SarifResult[]): object {
  const descriptions = new Map(results.map((result) => [result.rule, result.ruleDescription]));
  const rules = [...descriptions.keys()].sort();
  return {
    $schema: 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'storage-policy',
            version: VERSION,
            informationUri: 'https://github.com/storage-policy-webhook/storage-policy-webhook',
            rules: rules.map((id) => ({
              id,
              shortDescription: { text: descriptions.get(id) ?? id },
              helpUri: 'https://github.com/storage-policy-webhook/storage-policy-webhook/blob/main/docs/policies.md',
            })),
          },
        },
        results: results.map((result) => ({
          ruleId: result.rule,
          ruleIndex: rules.indexOf(result.rule),
          level: result.level,
          message: { text: result.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: artifactUri(result.file) },
                region: { startLine: result.line, startColumn: result.column },
              },
            },
          ],
        })),
      },
    ],
  };
}
