import { stringify } from 'yaml';
import { Engine } from '../engine/engine.js';
import { readManifests } from '../io/manifests.js';
import { formatProblem } from '../io/yaml.js';
import { addToState, loadInventory } from '../lookup/inventory.js';
import { ClusterState } from '../lookup/cluster-state.js';
import { BUNDLED_POLICIES_DIR, loadPolicyDir, PolicyLoadError } from '../policy/load.js';
import {
  auditCommand,
  AUDIT_OPTIONS,
  clockOf,
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
import { formatReviewText, reviewManifests } from './review.js';
import { listOption, optionHelp, parseOptions, stringOption, UsageError, type OptionSpec } from './options.js';
import { serve } from './serve.js';
import { serveConfig, SERVE_OPTIONS } from './serve-config.js';
import { certs, CERTS_OPTIONS } from './certs.js';

const EXIT_OK = 0;
const EXIT_DENIED = 1;
const EXIT_USAGE = 2;

const REVIEW_OPTIONS: OptionSpec[] = [
  { name: 'now', type: 'string', help: 'judge as at this RFC 3339 instant (dated enforcement: spec.enforceFrom)' },
  {
    name: 'filename',
    short: 'f',
    type: 'string',
    multiple: true,
    help: 'manifest file or folder (repeatable; folders are read recursively)',
  },
  {
    name: 'policies',
    type: 'string',
    env: 'POLICIES_DIR',
    default: BUNDLED_POLICIES_DIR,
    help: 'folder of policy files',
  },
  {
    name: 'inventory',
    type: 'string',
    multiple: true,
    help: 'YAML of StorageClasses, Namespaces and PVCs standing in for the cluster',
  },
  {
    name: 'namespace',
    short: 'n',
    type: 'string',
    default: 'default',
    help: 'namespace for objects that name none, as kubectl -n',
  },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    default: 'text',
    help: 'text, json, or yaml (text and yaml show the patched object)',
  },
];

const HELP_OPTION: OptionSpec = { name: 'help', short: 'h', type: 'boolean', help: 'show this help' };

const USAGE = `storage-policy: Kubernetes storage admission policies, as a webhook and offline

Usage:
  storage-policy serve [options]          run the TLS admission webhook (POST /mutate, /validate; probes and /metrics on the ops port)
  storage-policy review -f PATH [options]  review manifests offline with the same engine; exit 1 when any object is denied
  storage-policy lint [DIR] [options]     validate a policy folder (default: the bundled policies) and check it as a set; exit 1 on errors
  storage-policy test [PATH] [--now T]    run the policy test suites (*.test.yaml) under PATH (default: the bundled policies); exit 1 on a failure
  storage-policy explain -n NS [options]  which policies govern a namespace (or --kind StorageClass), why, and what they do
  storage-policy audit (--kubeconfig FILE | --inventory PATH) [options]  what existing objects violate, as PolicyReports; exit 1 when something fails
  storage-policy diff --policies NEW (--base OLD | --base-ref REF) (--kubeconfig FILE | --inventory PATH) [options]
                                          what a policy change newly fails and passes, and changes for new objects; exit 1 when something newly fails
  storage-policy certs --out DIR [options] make a CA and serving certificate, and the webhook configurations with caBundle

Exit codes: 0 allowed, valid or passed; 1 denied, invalid policies or failed tests; 2 usage or input errors.

serve options:
${optionHelp(SERVE_OPTIONS)}

review options:
${optionHelp(REVIEW_OPTIONS)}

lint options:
${optionHelp(LINT_OPTIONS)}

explain options:
${optionHelp(EXPLAIN_OPTIONS)}

audit options:
${optionHelp(AUDIT_OPTIONS)}

diff options:
${optionHelp(DIFF_OPTIONS)}

certs options:
${optionHelp(CERTS_OPTIONS)}

Manifests reviewed offline are treated as CREATEs; StorageClasses, VolumeAttributesClasses and Namespaces
among them are added to the inventory, so a claim can be reviewed with the class it ships with.`;

async function review(argv: string[]): Promise<number> {
  const { values } = parseOptions([...REVIEW_OPTIONS, HELP_OPTION], argv, process.env);
  if (values['help']) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  const paths = listOption(values, 'filename');
  if (paths.length === 0) throw new UsageError('review needs -f FILE or -f FOLDER');
  const output = stringOption(values, 'output') ?? 'text';
  if (!['text', 'json', 'yaml'].includes(output)) throw new UsageError(`-o must be text, json or yaml, not ${output}`);
  const { policies, exceptions } = await loadPolicyDir(stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR);
  const inventoryPaths = listOption(values, 'inventory');
  const state = inventoryPaths.length > 0 ? await loadInventory(inventoryPaths) : new ClusterState();
  const { manifests, problems } = await readManifests(paths);
  if (problems.length > 0) {
    process.stderr.write(`${problems.map(formatProblem).join('\n')}\n`);
    return EXIT_USAGE;
  }
  addToState(
    state,
    manifests
      .filter((manifest) => manifest.object['kind'] !== 'PersistentVolumeClaim')
      .map((manifest) => manifest.object),
  );
  const results = reviewManifests(
    new Engine({ policies, lookup: state, now: clockOf(values), exceptions }),
    manifests,
    stringOption(values, 'namespace') ?? 'default',
  );
  if (output === 'json') process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else if (output === 'yaml') process.stdout.write(stringify(results));
  else process.stdout.write(`${formatReviewText(results, (value) => stringify(value))}\n`);
  return results.some((result) => result.decision === 'denied') ? EXIT_DENIED : EXIT_OK;
}

function print(output: CommandOutput): number {
  if (output.stdout) process.stdout.write(`${output.stdout}\n`);
  if (output.stderr) process.stderr.write(`${output.stderr}\n`);
  return output.code;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values } = parseOptions([...SERVE_OPTIONS, HELP_OPTION], rest, process.env);
      if (values['help']) {
        process.stdout.write(`${USAGE}\n`);
        return EXIT_OK;
      }
      await serve(serveConfig(values));
      return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
    }
    case 'review':
      return review(rest);
    case 'lint': {
      const { values, positionals } = parseOptions([...LINT_OPTIONS, HELP_OPTION], rest, process.env);
      return values['help']
        ? print({ code: EXIT_OK, stdout: USAGE, stderr: '' })
        : print(await lintCommand(values, positionals[0] ?? BUNDLED_POLICIES_DIR));
    }
    case 'test': {
      const { values, positionals } = parseOptions([...TEST_OPTIONS, HELP_OPTION], rest, process.env);
      return values['help']
        ? print({ code: EXIT_OK, stdout: USAGE, stderr: '' })
        : print(await testCommand(positionals[0] ?? BUNDLED_POLICIES_DIR, values));
    }
    case 'explain': {
      const { values } = parseOptions([...EXPLAIN_OPTIONS, HELP_OPTION], rest, process.env);
      return values['help'] ? print({ code: EXIT_OK, stdout: USAGE, stderr: '' }) : print(await explainCommand(values));
    }
    case 'audit': {
      const { values } = parseOptions([...AUDIT_OPTIONS, HELP_OPTION], rest, process.env);
      return values['help'] ? print({ code: EXIT_OK, stdout: USAGE, stderr: '' }) : print(await auditCommand(values));
    }
    case 'diff': {
      const { values } = parseOptions([...DIFF_OPTIONS, HELP_OPTION], rest, process.env);
      return values['help'] ? print({ code: EXIT_OK, stdout: USAGE, stderr: '' }) : print(await diffCommand(values));
    }
    case 'certs': {
      const { values } = parseOptions([...CERTS_OPTIONS, HELP_OPTION], rest, process.env);
      if (values['help']) {
        process.stdout.write(`${USAGE}\n`);
        return EXIT_OK;
      }
      process.stdout.write(`${await certs(values)}\n`);
      return EXIT_OK;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? EXIT_USAGE : EXIT_OK;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== EXIT_OK) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`storage-policy: ${error.message}\nRun storage-policy --help for usage.\n`);
      process.exitCode = EXIT_USAGE;
    } else if (error instanceof PolicyLoadError) {
      process.stderr.write(`${error.problems.map(formatProblem).join('\n')}\n`);
      process.exitCode = EXIT_USAGE;
    } else {
      process.stderr.write(`storage-policy: ${(error as Error).message}\n`);
      process.exitCode = EXIT_USAGE;
    }
  },
);
