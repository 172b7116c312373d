import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { CONFIGURATION_TYPES, webhookEntry } from '../../src/admission/webhook-configurations.js';
import { LocalCluster, ROOT } from './harness.js';

// The Helm chart (deploy/chart) renders the same objects as the kustomize base (deploy/), with helm built from
// the Go module proxy (test/e2e/cluster/build-helm.sh) and the kubectl of the newest supported Kubernetes.

type Manifest = { kind: string; metadata: { name: string; annotations?: Record<string, string> } } & Record<
  string,
  unknown
>;

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Objects by kind/name, with what only one of the two tools adds taken out: kustomize's ConfigMap hash suffix, helm's checksum annotation. */
function normalized(text: string): Map<string, unknown> {
  const objects = new Map<string, unknown>();
  for (const document of parseAllDocuments(text)) {
    const object = document.toJS() as Manifest | null;
    if (!object) continue;
    const parsed = JSON.parse(
      JSON.stringify(object).replace(
        /storage-policy-webhook-policies-[a-z0-9]{10}/g,
        'storage-policy-webhook-policies',
      ),
    ) as Manifest;
    const template = (
      parsed['spec'] as { template?: { metadata?: { annotations?: Record<string, string> } } } | undefined
    )?.template?.metadata;
    if (template?.annotations) {
      delete template.annotations['checksum/policies'];
      if (Object.keys(template.annotations).length === 0) delete template.annotations;
    }
    objects.set(`${parsed.kind}/${parsed.metadata.name}`, parsed);
  }
  return objects;
}

describe('Helm chart (deploy/chart)', { timeout: 35 * 60 * 1000 }, () => {
  it('helm lint passes, and helm template (with the Namespace object) renders the objects of the kustomize base', async () => {
    const helm = LocalCluster.buildHelm();
    const [newest] = await LocalCluster.versions();
    const { bin } = LocalCluster.build(newest ?? '');
    const chart = join(ROOT, 'deploy/chart');
    assert.match(run(helm, ['lint', chart]), /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const rendered = normalized(
      run(helm, [
        'template',
        'storage-policy-webhook',
        chart,
        '--namespace',
        'storage-policy-webhook',
        '--set',
        'createNamespace=true',
      ]),
    );
    const base = normalized(run(join(bin, 'kubectl'), ['kustomize', join(ROOT, 'deploy')]));
    assert.deepEqual([...rendered.keys()].sort(), [...base.keys()].sort());
    for (const [key, object] of base) assert.deepEqual(rendered.get(key), object, key);
  });

  it('policyReports.enabled (either report API) and ciReader.enabled render what deploy/components/policy-reports, openreports and ci-reader add to the base', async () => {
    const helm = LocalCluster.buildHelm();
    const [newest] = await LocalCluster.versions();
    const { bin } = LocalCluster.build(newest ?? '');
    // kustomize refuses an overlay inside its base, so this one lives in a temporary folder.
    const overlay = await mkdtemp(join(tmpdir(), 'policy-reports-overlay-'));
    try {
      for (const [component, set, expected] of [
        ['policy-reports', 'policyReports.enabled=true', 'CustomResourceDefinition/policyreports.wgpolicyk8s.io'],
        ['openreports', 'policyReports.api=openreports.io/v1alpha1', 'CustomResourceDefinition/reports.openreports.io'],
        ['ci-reader', 'ciReader.enabled=true', 'ServiceAccount/storage-policy-webhook-ci'],
      ] as const) {
        await writeFile(
          join(overlay, 'kustomization.yaml'),
          `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${relative(overlay, join(ROOT, 'deploy'))}]\ncomponents: [${relative(overlay, join(ROOT, `deploy/components/${component}`))}]\n`,
        );
        const base = normalized(run(join(bin, 'kubectl'), ['kustomize', overlay]));
        const chart = [
          'template',
          'storage-policy-webhook',
          join(ROOT, 'deploy/chart'),
          '--namespace',
          'storage-policy-webhook',
          '--set',
          'createNamespace=true',
        ];
        const extra = component === 'ci-reader' ? [] : ['--set', 'policyReports.enabled=true'];
        const rendered = normalized(run(helm, [...chart, ...extra, '--set', set]));
        assert.deepEqual([...rendered.keys()].sort(), [...base.keys()].sort(), component);
        for (const [key, object] of base) assert.deepEqual(rendered.get(key), object, `${component}: ${key}`);
        assert.ok(rendered.has(expected), expected);
      }
      const withoutCrds = normalized(
        run(helm, [
          'template',
          'x',
          join(ROOT, 'deploy/chart'),
          '--set',
          'policyReports.enabled=true',
          '--set',
          'policyReports.installCRDs=false',
        ]),
      );
      assert.ok(
        !withoutCrds.has('CustomResourceDefinition/policyreports.wgpolicyk8s.io') &&
          withoutCrds.has('ClusterRole/storage-policy-webhook-reports'),
      );
    } finally {
      await rm(overlay, { recursive: true, force: true });
    }
  });

  it('storage-policy certs --policy-reports writes an overlay that kustomize renders with the component', async () => {
    const [newest] = await LocalCluster.versions();
    const { bin } = LocalCluster.build(newest ?? '');
    const out = await mkdtemp(join(tmpdir(), 'certs-overlay-'));
    try {
      run(process.execPath, [
        join(ROOT, 'dist/src/cli/main.js'),
        'certs',
        '--out',
        join(out, 'cluster'),
        '--policy-reports',
      ]);
      const rendered = normalized(run(join(bin, 'kubectl'), ['kustomize', join(out, 'cluster')]));
      assert.ok(
        rendered.has('CustomResourceDefinition/policyreports.wgpolicyk8s.io') &&
          rendered.has('Role/storage-policy-webhook-audit-lease'),
      );
      const deployment = rendered.get('Deployment/storage-policy-webhook') as {
        spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
      };
      const args = deployment.spec.template.spec.containers[0]?.args ?? [];
      assert.ok(args.includes('--policy-reports=true'));
      assert.ok(
        args.includes('--cert=/etc/storage-policy-webhook/tls/tls.crt') && !args.includes('--certificates=managed'),
        'the overlay serves the Secret it brings',
      );
      assert.ok(rendered.has('Secret/storage-policy-webhook-tls'));
      const validating = rendered.get('ValidatingWebhookConfiguration/storage-policy-webhook') as {
        webhooks?: Array<{ clientConfig: { caBundle?: string; service?: { path: string } } }>;
      };
      assert.equal(
        validating.webhooks?.length,
        1,
        'the overlay adds the entries to the empty configurations of the base',
      );
      assert.equal(validating.webhooks?.[0]?.clientConfig.service?.path, '/validate');
      assert.ok(validating.webhooks?.[0]?.clientConfig.caBundle);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('values change what they say: replicas, failurePolicy, timeouts, exclusions, cert-manager, NetworkPolicy on, priority with its quota, policies', () => {
    const helm = LocalCluster.buildHelm();
    const chart = join(ROOT, 'deploy/chart');
    const template = (...set: string[]) =>
      normalized(
        run(helm, ['template', 'spw', chart, '--namespace', 'guardrails', ...set.flatMap((value) => ['--set', value])]),
      );
    const rendered = template(
      'replicas=3',
      'webhook.failurePolicy=Ignore',
      'webhook.timeoutSeconds=3',
      'webhook.excludeNamespaces={kube-system,monitoring}',
      'certificates.source=certManager',
      'networkPolicy.enabled=true',
      'priorityClassName=system-cluster-critical',
    );
    const deployment = rendered.get('Deployment/storage-policy-webhook') as {
      spec: {
        replicas: number;
        template: { spec: { priorityClassName?: string; containers: Array<{ args: string[] }> } };
      };
    };
    assert.equal(deployment.spec.replicas, 3);
    assert.equal(deployment.spec.template.spec.priorityClassName, 'system-cluster-critical');
    assert.ok(
      deployment.spec.template.spec.containers[0]?.args.includes('--cert=/etc/storage-policy-webhook/tls/tls.crt'),
    );
    const quota = rendered.get('ResourceQuota/storage-policy-webhook-critical-pods') as {
      spec: { hard: { pods: string }; scopeSelector: { matchExpressions: Array<{ values: string[] }> } };
    };
    assert.deepEqual(
      [quota.spec.hard.pods, quota.spec.scopeSelector.matchExpressions[0]?.values],
      ['6', ['system-cluster-critical']],
      'GKE admits the priority outside kube-system only with this quota',
    );
    const validating = rendered.get('ValidatingWebhookConfiguration/storage-policy-webhook') as {
      metadata: { annotations?: Record<string, string> };
      webhooks: Array<{
        failurePolicy: string;
        timeoutSeconds: number;
        namespaceSelector: { matchExpressions: Array<{ key: string; values: string[] }> };
        clientConfig: { service: { namespace: string } };
      }>;
    };
    const [webhook] = validating.webhooks;
    assert.equal(webhook?.failurePolicy, 'Ignore');
    assert.equal(webhook?.timeoutSeconds, 3);
    assert.deepEqual(webhook?.namespaceSelector.matchExpressions[0]?.values, [
      'kube-system',
      'monitoring',
      'guardrails',
    ]);
    assert.deepEqual(webhook?.namespaceSelector.matchExpressions[1], {
      key: 'storage-policy-webhook.io/ignore',
      operator: 'NotIn',
      values: ['true'],
    });
    assert.equal(webhook?.clientConfig.service.namespace, 'guardrails');
    assert.equal(
      validating.metadata.annotations?.['cert-manager.io/inject-ca-from'],
      'guardrails/storage-policy-webhook',
    );
    assert.ok(rendered.has('Certificate/storage-policy-webhook'));
    assert.ok(rendered.has('NetworkPolicy/storage-policy-webhook'));
    assert.ok(
      !rendered.has('Role/storage-policy-webhook-certificates'),
      'no Secret or configuration rights without managed certificates',
    );

    // The static entries (certificates from a Secret or cert-manager) are the ones the webhook registers itself.
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const secretMode = template(
      'certificates.source=secret',
      `certificates.caBundle=${Buffer.from(pem).toString('base64')}`,
    );
    for (const type of CONFIGURATION_TYPES) {
      const registration = {
        target: { service: { name: 'storage-policy-webhook', namespace: 'guardrails', port: 443 } },
        caBundle: pem,
        failurePolicy: 'Fail',
        timeoutSeconds: 5,
        excludedNamespaces: ['kube-system', 'guardrails'],
      } as const;
      const kind = type === 'mutating' ? 'MutatingWebhookConfiguration' : 'ValidatingWebhookConfiguration';
      assert.deepEqual(
        (secretMode.get(`${kind}/storage-policy-webhook`) as { webhooks: unknown }).webhooks,
        [webhookEntry(type, registration)],
        kind,
      );
    }

    const defaults = template();
    // Managed certificates (the default): installed empty, the values reach the pod, which registers the entries.
    assert.equal(
      (defaults.get('ValidatingWebhookConfiguration/storage-policy-webhook') as { webhooks?: unknown }).webhooks,
      undefined,
    );
    assert.equal(
      (defaults.get('MutatingWebhookConfiguration/storage-policy-webhook') as { webhooks?: unknown }).webhooks,
      undefined,
    );
    const environment = (values: Map<string, unknown>) =>
      Object.fromEntries(
        (
          (
            values.get('Deployment/storage-policy-webhook') as {
              spec: { template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } } };
            }
          ).spec.template.spec.containers[0]?.env ?? []
        )
          .filter((variable) =>
            ['FAILURE_POLICY', 'WEBHOOK_TIMEOUT_SECONDS', 'EXCLUDE_NAMESPACES'].includes(variable.name),
          )
          .map((variable) => [variable.name, variable.value]),
      );
    assert.deepEqual(environment(defaults), {
      FAILURE_POLICY: 'Fail',
      WEBHOOK_TIMEOUT_SECONDS: '5',
      EXCLUDE_NAMESPACES: 'kube-system',
    });
    assert.deepEqual(
      environment(
        template(
          'webhook.failurePolicy=Ignore',
          'webhook.timeoutSeconds=3',
          'webhook.excludeNamespaces={kube-system,monitoring}',
        ),
      ),
      {
        FAILURE_POLICY: 'Ignore',
        WEBHOOK_TIMEOUT_SECONDS: '3',
        EXCLUDE_NAMESPACES: 'kube-system,monitoring',
      },
    );
    assert.ok(
      !defaults.has('NetworkPolicy/storage-policy-webhook') &&
        !defaults.has('ResourceQuota/storage-policy-webhook-critical-pods'),
    );
    assert.ok(
      defaults.has('PodDisruptionBudget/storage-policy-webhook') &&
        !template('replicas=1').has('PodDisruptionBudget/storage-policy-webhook'),
      'a PDB only with more than one replica',
    );
    const secretWithoutBundle = spawnSync(helm, ['template', 'spw', chart, '--set', 'certificates.source=secret'], {
      encoding: 'utf8',
    });
    assert.notEqual(secretWithoutBundle.status, 0);
    assert.match(secretWithoutBundle.stderr, /certificates\.source secret needs certificates\.caBundle/);
    const own = template('policies.existingConfigMap=team-policies');
    const mounted = own.get('Deployment/storage-policy-webhook') as {
      spec: { template: { spec: { volumes: Array<{ name: string; configMap?: { name: string } }> } } };
    };
    assert.ok(!own.has('ConfigMap/storage-policy-webhook-policies'));
    assert.equal(
      mounted.spec.template.spec.volumes.find((volume) => volume.name === 'policies')?.configMap?.name,
      'team-policies',
    );
    const files = template('policies.files.platform\\.yaml=apiVersion: storage-policy-webhook.io/v1alpha1');
    assert.deepEqual(
      Object.keys((files.get('ConfigMap/storage-policy-webhook-policies') as { data: Record<string, string> }).data),
      ['platform.yaml'],
    );
  });
});
