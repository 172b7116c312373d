import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { importPrices, PriceImportError } from '../authoring/price-import.js';
import type { CommandOutput } from './authoring.js';
import { choiceOption, EXIT, stringOption, UsageError, type OptionSpec, type ParsedOptions } from './options.js';

export const PRICES_OPTIONS: OptionSpec[] = [
  { name: 'region', type: 'string', default: 'us-east-1', help: 'the AWS region code to take the prices of' },
  { name: 'service', type: 'string', default: 'all', help: 'ebs, efs, or all (what the file has)' },
];

/** `storage-policy prices import FILE`: a policy's `prices:` block from one of AWS's price files. */
export async function pricesCommand(values: ParsedOptions, positionals: string[]): Promise<CommandOutput> {
  const [action, file] = positionals;
  if (action !== 'import' || !file) throw new UsageError('prices needs: import FILE [--region R] [--service ebs|efs]');
  const region = stringOption(values, 'region') ?? 'us-east-1';
  const service = choiceOption(values, 'service', ['all', 'ebs', 'efs']);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
  try {
    const table = importPrices(parsed, region, service === 'all' ? undefined : service);
    return {
      code: EXIT.ok,
      stdout: `# AWS list prices for ${region} from ${file}; paste under a policy's spec\n${stringify({ prices: table })}`,
      stderr: '',
    };
  } catch (error) {
    if (error instanceof PriceImportError) throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
}
