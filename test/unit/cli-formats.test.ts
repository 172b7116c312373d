import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { makeCertificateAuthority, makeServingCertificate } from '../../src/server/tls.js';

// The CLI as CI jobs and kubectl users drive it: machine outputs (golden files in test/golden, the SARIF checked
// against the OASIS schema Microsoft's SARIF multitool ships), standard input, help, version, completion, the
// kubeconfig kubectl would use, and one set of exit codes. UPDATE_GOLDEN=1 rewrites the golden files.

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function run(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    input: options.input,
    env: { ...process.env, ...options.env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** For a command that talks to a server in this process: spawnSync would block the loop that answers it. */
function runAsync(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: ROOT, timeout: 30_000, env: { ...process.env, ...env } },
      (error, stdout, stderr) =>
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

function golden(name: string, actual: string): void {
  const file = join(ROOT, 'test', 'golden', name);
  const stable = actual.replace(/"version": "\d+\.\d+\.\d+[^"]*"/g, '"version": "VERSION"');
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, stable);
  assert.equal(stable, readFileSync(file, 'utf8'), `${name} differs from test/golden (UPDATE_GOLDEN=1 rewrites it)`);
}

const sarifSchema = JSON.parse(
  readFileSync(join(ROOT, 'node_modules', '@microsoft', 'sarif-multitool-linux', 'sarif-2.1.0.json'), 'utf8'),
);
const validateSarif = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(sarifSchema);

function assertSarif(text: string): { runs: Array<{ results: Array<Record<string, unknown>> }> } {
  const log: { runs: Array<{ results: Array<Record<string, unknown>> }> } = JSON.parse(text);
  assert.ok(validateSarif(log), JSON.stringify(validateSarif.errors, null, 2));
  return log;
}

describe('CLI output formats', () => {
  it('review -o json: one field each for policy, rule, path, message and action (golden)', () => {
    const result = run(['review', '-f', 'examples/apps', '--inventory', 'examples/cluster', '-o', 'json']);
    assert.equal(result.status, 1, result.stderr);
    const ledger = JSON.parse(result.stdout).find((entry: { name: string }) => entry.name === 'ledger');
    assert.deepEqual(Object.keys(ledger.findings[0]).sort(), ['action', 'message', 'path', 'policy', 'rule']);
    assert.doesNotMatch(ledger.findings[0].message, /\[policy /, 'the message is the message, nothing else');
    golden('review.json', result.stdout);
  });

  it('review -o sarif: valid SARIF 2.1.0, each finding at the line of its field (golden)', () => {
    const result = run(['review', '-f', 'examples/apps', '--inventory', 'examples/cluster', '-o', 'sarif']);
    assert.equal(result.status, 1, result.stderr);
    const log = assertSarif(result.stdout);
    const results = log.runs[0]?.results ?? [];
    assert.ok(results.length > 0);
    const modes = results.find((entry) => entry['ruleId'] === 'access-modes/unsupported');
    const location = JSON.stringify(modes?.['locations']);
    assert.match(location, /"uri":"examples\/apps\/bad-claim.yaml"/);
    const lines = readFileSync(join(ROOT, 'examples/apps/bad-claim.yaml'), 'utf8').split('\n');
    const line = Number(/"startLine":(\d+)/.exec(location)?.[1]);
    assert.match(lines[line - 1] ?? '', /ReadWriteMany/, `line ${line} of bad-claim.yaml is the access mode`);
    golden('review.sarif', result.stdout);
  });

  it('lint -o sarif and -o json: problems at their policy file and line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lint-sarif-'));
    try {
      await writeFile(
        join(dir, 'p.yaml'),
        'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: p}\nspec:\n  match: {}\n  zones: {allowed: []}\n',
      );
      const sarif = run(['lint', dir, '-o', 'sarif']);
      assert.equal(sarif.status, 1);
      const log = assertSarif(sarif.stdout);
      assert.match(JSON.stringify(log.runs[0]?.results[0]), /"startLine":6/);
      const json = JSON.parse(run(['lint', dir, '-o', 'json']).stdout);
      assert.equal(json[0].line, 6);
      assertSarif(run(['lint', '-o', 'sarif']).stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('test -o junit: one testsuite per suite file, a failure element per failed case (golden)', () => {
    const result = run(['test', 'policies', '-o', 'junit']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites /);
    assert.equal((result.stdout.match(/<testsuite /g) ?? []).length, 6, 'five files, one with two suites');
    assert.equal((result.stdout.match(/<testcase /g) ?? []).length, Number(/tests="(\d+)"/.exec(result.stdout)?.[1]));
    golden('test.junit.xml', result.stdout);
  });

  it('test -o junit: a failed case is a failure element with what differed, escaped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'junit-'));
    try {
      await writeFile(
        join(dir, 'p.yaml'),
        'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: p}\nspec:\n  match: {}\n  storageClasses: {allowed: [gp3]}\n',
      );
      await writeFile(
        join(dir, 'p.test.yaml'),
        [
          'apiVersion: storage-policy-webhook.io/v1alpha1',
          'kind: StoragePolicyTest',
          'metadata: {name: "p <&>"}',
          'spec:',
          '  policies: [p.yaml]',
          '  cases:',
          '    - name: io2 is "allowed" (wrong on purpose)',
          '      resource:',
          '        apiVersion: v1',
          '        kind: PersistentVolumeClaim',
          '        metadata: {name: x, namespace: a}',
          '        spec: {storageClassName: io2, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}',
          '      expect: {decision: allowed}',
          '',
        ].join('\n'),
      );
      const result = run(['test', dir, '-o', 'junit']);
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stdout, /<testsuites name="storage-policy test" tests="1" failures="1">/);
      assert.match(result.stdout, /<testsuite name="p &#60;&#38;&#62;" /);
      assert.match(
        result.stdout,
        /<testcase [^>]*name="io2 is &#34;allowed&#34; \(wrong on purpose\)" file="[^"]*">\n +<failure message="decision: expected allowed, got denied/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('-f - reads the manifests from standard input', () => {
    const input = readFileSync(join(ROOT, 'examples/apps/claims.yaml'), 'utf8');
    const result = run(['review', '-f', '-', '--inventory', 'examples/cluster', '-o', 'json'], { input });
    assert.equal(result.status, 0, result.stderr);
    const results = JSON.parse(result.stdout);
    assert.ok(results.length > 0 && results.every((entry: { source: string }) => entry.source.startsWith('stdin#')));
  });
});

describe('CLI for people and kubectl', () => {
  it('--version and version print the package version', () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    assert.equal(run(['--version']).stdout.trim(), `storage-policy ${version}`);
    assert.equal(run(['version']).stdout.trim(), `storage-policy ${version}`);
  });

  it('every command has its own --help with its options, and the bins kubectl and npx find', () => {
    for (const command of COMMANDS) {
      const help = run([command.name, '--help']);
      assert.equal(help.status, 0, command.name);
      assert.match(help.stdout, new RegExp(`^Usage: storage-policy ${command.name}`));
      for (const option of command.options)
        assert.ok(help.stdout.includes(`--${option.name}`), `${command.name} --${option.name}`);
    }
    const bins = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin;
    assert.deepEqual(Object.keys(bins).sort(), [
      'kubectl-storage_policy',
      'kubectl_complete-storage_policy',
      'storage-policy',
      'storage-policy-webhook',
    ]);
  });

  it('completion bash|zsh|fish offers every command and flag; the bash script parses', () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const script = run(['completion', shell]);
      assert.equal(script.status, 0, shell);
      for (const command of COMMANDS) {
        assert.ok(script.stdout.includes(command.name), `${shell}: ${command.name}`);
        for (const option of command.options)
          assert.ok(script.stdout.includes(option.name), `${shell}: ${option.name}`);
      }
      if (shell === 'bash') {
        const parsed = spawnSync('bash', ['-n'], { input: script.stdout, encoding: 'utf8' });
        assert.equal(parsed.status, 0, parsed.stderr);
      }
    }
    assert.equal(run(['completion', 'tcsh']).status, 2);
  });

  it("__complete answers in Cobra's protocol from the same table: commands, then flags, then files", () => {
    const lines = (...words: string[]): string[] =>
      run(['__complete', ...words])
        .stdout.trim()
        .split('\n');
    const audit = COMMANDS.find((command) => command.name === 'audit');
    assert.deepEqual(lines('au'), [`audit\t${audit?.summary ?? ''}`, ':4']);
    assert.deepEqual(
      lines('')
        .filter((line) => !line.startsWith('-') && !line.startsWith(':'))
        .map((line) => line.split('\t')[0]),
      COMMANDS.map((command) => command.name),
    );
    assert.deepEqual(lines('review', '--pol'), ['--policies', ':4']);
    assert.deepEqual(lines('review', 'examples/'), [':0'], 'a file argument: the shell completes files');
    assert.deepEqual(lines('nonsense', ''), [':4']);
  });

  it('exit codes: 2 for usage and unreadable input in every command, 1 for findings', () => {
    assert.equal(run(['lint', join(ROOT, 'no-such-folder')]).status, 2, 'lint: a missing folder is input');
    assert.equal(run(['review', '-f', 'examples/apps', '--policies', join(ROOT, 'no-such-folder')]).status, 2);
    assert.equal(run(['test', join(ROOT, 'no-such-folder')]).status, 2);
    assert.equal(run(['explain', '--kind', 'Pod']).status, 2);
    assert.equal(run(['review', '-f', 'examples/apps', '-o', 'xml']).status, 2);
    assert.equal(run(['lint', '-o', 'xml']).status, 2);
    assert.equal(run(['audit', '--inventory', 'examples/cluster', '--context', 'x']).status, 2);
    assert.equal(run(['review', '-f', 'examples/apps', '--inventory', 'examples/cluster']).status, 1);
  });
});

describe('audit reaches the cluster kubectl would', () => {
  let port = 0;
  let server: ReturnType<typeof createServer>;
  let dir: string;
  before(async () => {
    const ca = await makeCertificateAuthority('audit test CA');
    const serving = await makeServingCertificate(['127.0.0.1'], ca);
    server = createServer({ key: serving.key, cert: serving.cert }, (_request, response) => {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: '1' }, items: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    dir = await mkdtemp(join(tmpdir(), 'kubeconfig-'));
    const caData = Buffer.from(ca.cert).toString('base64');
    await writeFile(
      join(dir, 'config'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'live', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': caData } },
          { name: 'gone', cluster: { server: 'https://127.0.0.1:1', 'certificate-authority-data': caData } },
        ],
        users: [{ name: 'reader', user: { token: 'test-token' } }],
        contexts: [
          { name: 'live', context: { cluster: 'live', user: 'reader' } },
          { name: 'gone', context: { cluster: 'gone', user: 'reader' } },
        ],
        'current-context': 'gone',
      }),
    );
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('$KUBECONFIG is read, its current context used, and --context picks another', async () => {
    const env = { KUBECONFIG: join(dir, 'config'), HOME: dir };
    const current = await runAsync(['audit'], env);
    assert.equal(current.status, 2, 'the current context (gone) cannot be reached');
    assert.match(current.stderr, /cannot read the cluster/);
    const live = await runAsync(['audit', '--context', 'live', '-o', 'json'], env);
    assert.equal(live.status, 0, live.stderr);
    assert.equal(JSON.parse(live.stdout).kind, 'List');
    const unknown = await runAsync(['audit', '--context', 'nope'], env);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no context nope/);
  });
});
