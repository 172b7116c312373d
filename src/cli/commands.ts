import { basename } from 'node:path';
import { formatProblem } from '../io/yaml.js';
import { BUNDLED_POLICIES_DIR, PolicyLoadError } from '../policy/load.js';
import {
  auditCommand,
  AUDIT_OPTIONS,
  diffCommand,
  DIFF_OPTIONS,
  explainCommand,
  EXPLAIN_OPTIONS,
  lintCommand,
  LINT_OPTIONS,
  testCommand,
  TEST_OPTIONS,
  type CommandOutput,
} from './authoring.js';
import { certs, CERTS_OPTIONS } from './certs.js';
import { checkCommand, CHECK_OPTIONS } from './check.js';
import { completionAnswer, completionScript, SHELLS } from './completion.js';
import { generateCommand, GENERATE_OPTIONS } from './generate.js';
import { pricesCommand, PRICES_OPTIONS } from './prices.js';
import { EXIT, optionHelp, parseOptions, UsageError, type OptionSpec, type ParsedOptions } from './options.js';
import { reviewCommand, REVIEW_OPTIONS } from './review.js';
import { serve } from './serve.js';
import { serveConfig, SERVE_OPTIONS } from './serve-config.js';
import { VERSION } from './version.js';

/** One subcommand: what --help, completion and the dispatcher know of it. */
export interface Command {
  name: string;
  /** What follows the command name in its usage line. */
  synopsis: string;
  summary: string;
  options: OptionSpec[];
  run(values: ParsedOptions, positionals: string[]): Promise<CommandOutput>;
}

const output = (stdout: string): CommandOutput => ({ code: EXIT.ok, stdout, stderr: '' });

export const COMMANDS: Command[] = [
  {
    name: 'serve',
    synopsis: '[options]',
    summary: 'run the TLS admission webhook (POST /mutate, /validate; probes and /metrics on the ops port)',
    options: SERVE_OPTIONS,
    run: async (values) => {
      await serve(serveConfig(values));
      return { code: typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok, stdout: '', stderr: '' };
    },
  },
  {
    name: 'review',
    synopsis: '-f PATH|- [options]',
    summary: 'review manifests offline with the same engine (as CREATEs); exit 1 when any object is denied',
    options: REVIEW_OPTIONS,
    run: (values) => reviewCommand(values),
  },
  {
    name: 'lint',
    synopsis: '[DIR] [options]',
    summary: 'validate a policy folder (default: the bundled policies) and check it as a set; exit 1 on errors',
    options: LINT_OPTIONS,
    run: (values, positionals) => lintCommand(values, positionals[0] ?? BUNDLED_POLICIES_DIR),
  },
  {
    name: 'test',
    synopsis: '[PATH] [options]',
    summary: 'run the policy test suites (*.test.yaml) under PATH (default: the bundled policies); exit 1 on a failure',
    options: TEST_OPTIONS,
    run: (values, positionals) => testCommand(positionals[0] ?? BUNDLED_POLICIES_DIR, values),
  },
  {
    name: 'explain',
    synopsis: '-n NS [options]',
    summary:
      'which policies govern a namespace (or a cluster-scoped kind), why, and what they do (budgets and their use)',
    options: EXPLAIN_OPTIONS,
    run: (values) => explainCommand(values),
  },
  {
    name: 'audit',
    synopsis: '[--inventory PATH | --kubeconfig FILE --context NAME] [options]',
    summary:
      'what existing objects violate, as PolicyReports (the cluster kubectl reaches, or files); exit 1 when something fails',
    options: AUDIT_OPTIONS,
    run: (values) => auditCommand(values),
  },
  {
    name: 'diff',
    synopsis: '--policies NEW (--base OLD | --base-ref REF) [--inventory PATH | --kubeconfig FILE] [options]',
    summary:
      'what a policy change newly fails and passes, and changes for new objects; exit 1 when something newly fails',
    options: DIFF_OPTIONS,
    run: (values) => diffCommand(values),
  },
  {
    name: 'generate',
    synopsis: 'admission-policies [--policies DIR] [--kubernetes-version v1.3x] [--static] [--out DIR] [options]',
    summary:
      'compile what the policies judge without cluster data into ValidatingAdmissionPolicies (and, from v1.36, MutatingAdmissionPolicies) the API server runs while the webhook is down',
    options: GENERATE_OPTIONS,
    run: (values, positionals) => generateCommand(values, positionals),
  },
  {
    name: 'prices',
    synopsis: 'import FILE [--region us-east-1] [--service ebs|efs]',
    summary:
      "print a policy's prices: block from an AWS price file (offer index.json, GetProducts output, or the Pricing Calculator's data)",
    options: PRICES_OPTIONS,
    run: (values, positionals) => pricesCommand(values, positionals),
  },
  {
    name: 'certs',
    synopsis: '--out DIR [options]',
    summary: 'make a CA and serving certificate, and the webhook configurations with caBundle',
    options: CERTS_OPTIONS,
    run: async (values) => output(await certs(values)),
  },
  {
    name: 'check',
    synopsis: '[-n NAMESPACE] [--kubeconfig FILE] [--context NAME]',
    summary:
      "create a dry-run claim through the API server and expect this webhook's answer; exit 1 when it does not come",
    options: CHECK_OPTIONS,
    run: (values) => checkCommand(values),
  },
  {
    name: 'completion',
    synopsis: SHELLS.join('|'),
    summary: 'print a shell completion script, e.g. source <(storage-policy completion bash)',
    options: [],
    run: (_values, positionals) => {
      const shell = SHELLS.find((candidate) => candidate === positionals[0]);
      if (!shell) return Promise.reject(new UsageError(`completion needs a shell: ${SHELLS.join(', ')}`));
      return Promise.resolve(output(completionScript(shell, COMMANDS, programName())));
    },
  },
  {
    name: 'version',
    synopsis: '',
    summary: 'print the version',
    options: [],
    run: () => Promise.resolve(output(`storage-policy ${VERSION}`)),
  },
];

const HELP_OPTION: OptionSpec = { name: 'help', short: 'h', type: 'boolean', help: 'show this help' };

/** `kubectl storage-policy` when kubectl runs this as its plugin (kubectl-storage_policy), else `storage-policy`. */
function programName(): string {
  return basename(process.argv[1] ?? '').startsWith('kubectl-') ? 'kubectl storage-policy' : 'storage-policy';
}

const EXIT_CODES =
  'Exit codes: 0 allowed, valid or passed; 1 denied, invalid policies or failed tests; 2 usage or input errors.';

function usage(): string {
  const program = programName();
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    `${program}: Kubernetes storage admission policies, as a webhook and offline (version ${VERSION})`,
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    `Run ${program} COMMAND --help for a command's options. --version prints the version.`,
    EXIT_CODES,
  ].join('\n');
}

function commandHelp(command: Command): string {
  const program = programName();
  return [
    `Usage: ${program} ${command.name}${command.synopsis ? ` ${command.synopsis}` : ''}`,
    '',
    `${command.summary[0]?.toUpperCase() ?? ''}${command.summary.slice(1)}.`,
    ...(command.options.length > 0 ? ['', 'Options:', optionHelp([...command.options, HELP_OPTION])] : []),
    '',
    EXIT_CODES,
  ].join('\n');
}

function print(result: CommandOutput): number {
  if (result.stdout) process.stdout.write(`${result.stdout}\n`);
  if (result.stderr) process.stderr.write(`${result.stderr}\n`);
  return result.code;
}

/** Started as kubectl's completion executable for this plugin (`kubectl_complete-storage_policy`, package.json bin). */
function startedForCompletion(): boolean {
  return basename(process.argv[1] ?? '').startsWith('kubectl_complete-');
}

async function main(argv: string[]): Promise<number> {
  // Cobra's protocol, as kubectl calls a plugin's completion executable; `__complete` is the same, by hand.
  if (startedForCompletion()) return print(output(completionAnswer(COMMANDS, argv).join('\n')));
  if (argv[0] === '__complete') return print(output(completionAnswer(COMMANDS, argv.slice(1)).join('\n')));
  const [name, ...rest] = argv;
  if (name === undefined) return print({ code: EXIT.input, stdout: usage(), stderr: '' });
  if (name === 'help' || name === '--help' || name === '-h') return print(output(usage()));
  if (name === '--version' || name === '-v') return print(output(`storage-policy ${VERSION}`));
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) throw new UsageError(`unknown command ${name}`);
  const { values, positionals } = parseOptions([...command.options, HELP_OPTION], rest, process.env);
  if (values['help']) return print(output(commandHelp(command)));
  return print(await command.run(values, positionals));
}

/** Runs one command line and sets the exit code: 0, 1 (denied, invalid, failed) or 2 (usage and input errors). */
export async function runCli(argv: string[]): Promise<void> {
  try {
    const code = await main(argv);
    if (code !== EXIT.ok) process.exitCode = code;
  } catch (error) {
    if (error instanceof UsageError)
      process.stderr.write(`${programName()}: ${error.message}\nRun ${programName()} --help for usage.\n`);
    else if (error instanceof PolicyLoadError)
      process.stderr.write(`${error.problems.map(formatProblem).join('\n')}\n`);
    else process.stderr.write(`${programName()}: ${(error as Error).message}\n`);
    process.exitCode = EXIT.input;
  }
}
