import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('storage-policy CLI', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('review: exit 0 and the patched object when everything is allowed', () => {
    const result = run('review', '-f', 'examples/apps/claims.yaml', '--inventory', 'examples/cluster');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /PersistentVolumeClaim payments\/orders-db .*: ALLOWED/);
    assert.match(result.stdout, /storageClassName: gp3/);
    assert.match(result.stdout, /storage-policy-webhook.io\/provisioned-iops: "5000"/);
  });
  it('review: exit 1 with every violation when an object is denied', () => {
    const result = run('review', '-f', 'examples/apps', '--inventory', 'examples/cluster');
    assert.equal(result.status, 1);
    assert.match(result.stdout, /PersistentVolumeClaim payments\/ledger .*: DENIED/);
    assert.match(result.stdout, /deny +spec\.accessModes\[0\]: ReadWriteMany on ebs\.csi\.aws\.com/);
  });
  it('review -o json: machine-readable results with the JSON patch', () => {
    const result = run(
      'review',
      '-f',
      'examples/apps/statefulset.yaml',
      '--inventory',
      'examples/cluster',
      '-o',
      'json',
    );
    assert.equal(result.status, 0, result.stderr);
    const [kafka] = JSON.parse(result.stdout);
    assert.equal(kafka.decision, 'allowed');
    const paths = kafka.patch.map((operation: { path: string }) => operation.path);
    assert.ok(
      paths.some((path: string) => path.startsWith('/spec/template/spec/nodeSelector')),
      paths.join(', '),
    );
    assert.ok(
      !paths.some((path: string) => path.startsWith('/spec/volumeClaimTemplates')),
      'templates stay as written',
    );
  });
  it('review: StorageClasses in the manifests count as the cluster for the claims beside them', async () => {
    const file = join(dir, 'app.yaml');
    await writeFile(
      file,
      'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: gp3}\nprovisioner: ebs.csi.aws.com\nvolumeBindingMode: WaitForFirstConsumer\nparameters: {type: gp3}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x, namespace: a}\nspec:\n  storageClassName: gp3\n  accessModes: [ReadWriteMany]\n  resources: {requests: {storage: 1Gi}}\n',
    );
    const result = run('review', '-f', file);
    assert.equal(result.status, 1);
    assert.match(result.stdout, /ReadWriteMany on ebs\.csi\.aws\.com/);
  });
  it('review: exit 2 on usage and input errors', async () => {
    assert.equal(run('review').status, 2);
    assert.equal(run('review', '-f', join(dir, 'missing.yaml')).status, 2);
    assert.equal(run('review', '-f', 'examples/apps', '-o', 'xml').status, 2);
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'kind: [unclosed\n');
    const result = run('review', '-f', broken);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /broken\.yaml:\d+:\d+/);
    assert.equal(run('frobnicate').status, 2);
  });
  it('lint: exit 0 for the bundled policies, 1 with file:line:column for a broken one', async () => {
    assert.equal(run('lint').status, 0);
    const policies = join(dir, 'policies');
    await import('node:fs/promises').then((fs) => fs.mkdir(policies));
    await writeFile(
      join(policies, 'p.yaml'),
      'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: p}\nspec:\n  match: {}\n  zones: {allowed: []}\n',
    );
    const result = run('lint', policies);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /p\.yaml:6:20: spec\.zones\.allowed: must NOT have fewer than 1 items/);
  });
  it('serve: refuses to start on an invalid policy set', async () => {
    const policies = join(dir, 'bad-serve');
    await import('node:fs/promises').then((fs) => fs.mkdir(policies));
    await writeFile(join(policies, 'p.yaml'), 'apiVersion: v9\n');
    const result = run('serve', '--policies', policies, '--port', '0');
    assert.equal(result.status, 1);
    assert.match(result.stderr, /p\.yaml:1:\d+: apiVersion: must be "storage-policy-webhook.io\/v1alpha1"/);
  });
  it('certs --url --client: serving and client certificates chained to one CA, configurations pointed at the URL', async () => {
    const out = join(dir, 'certs');
    const result = run('certs', '--url', 'https://127.0.0.1:9443', '--out', out, '--client');
    assert.equal(result.status, 0, result.stderr);
    const { X509Certificate } = await import('node:crypto');
    const { readFile } = await import('node:fs/promises');
    const ca = new X509Certificate(await readFile(join(out, 'ca.crt')));
    const serving = new X509Certificate(await readFile(join(out, 'tls.crt')));
    const client = new X509Certificate(await readFile(join(out, 'client.crt')));
    assert.ok(serving.verify(ca.publicKey) && client.verify(ca.publicKey));
    assert.equal(serving.subjectAltName, 'IP Address:127.0.0.1');
    assert.ok(serving.keyUsage?.includes('1.3.6.1.5.5.7.3.1') && client.keyUsage?.includes('1.3.6.1.5.5.7.3.2'));
    const configurations = await readFile(join(out, 'webhook-configurations.yaml'), 'utf8');
    assert.match(configurations, /url: https:\/\/127\.0\.0\.1:9443\/mutate/);
    assert.match(configurations, /url: https:\/\/127\.0\.0\.1:9443\/validate/);
    assert.equal((configurations.match(/caBundle: /g) ?? []).length, 2);
    assert.doesNotMatch(configurations, /inject-ca-from/);
    assert.equal(run('certs', '--out', join(ROOT, 'deploy', 'x')).status, 2, 'an overlay inside deploy/ is refused');
  });
  it('--help lists every command; each command has its own --help with its options', () => {
    const help = run('--help');
    assert.equal(help.status, 0);
    for (const text of ['serve', 'review', 'lint', 'test', 'explain', 'audit', 'diff', 'certs', 'completion'])
      assert.ok(help.stdout.includes(`  ${text} `), text);
    const serve = run('serve', '--help');
    for (const text of ['--port', '--cert', '--key', '--policies', '--inventory', 'PORT', '--max-body-bytes'])
      assert.ok(serve.stdout.includes(text), text);
    assert.ok(run('review', '--help').stdout.includes('-o, --output'));
  });
});
