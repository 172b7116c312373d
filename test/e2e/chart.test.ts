import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { CONFIGURATION_TYPES, webhookEntry } from '../../src/admission/webhook-configurations.js';
import { LocalCluster, ROOT } from './harness.js';

// The Helm chart (deploy/chart) renders the same objects as the kustomize base (deploy/), with helm built from
// the Go module proxy (test/e2e/cluster/build-helm.sh) and the kubectl of the newest supported Kubernetes.

type Manifest = { kind: string; metadata: { name: string; annotations?: Record<string, string> } } & Record<
  string,
  unknown
>;

/** Where Prometheus's PromQL grammar finds an error in an expression (none: it parses). */
function promqlErrors(expression: string): number[] {
  const errors: number[] = [];
  promql.parse(expression).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
    },
  });
  return errors;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Labels only helm sets (which chart and release tool made the object), taken out before comparing with kustomize. */
const HELM_ONLY_LABELS = /"(helm\.sh\/chart|app\.kubernetes\.io\/managed-by|app\.kubernetes\.io\/version)":"[^"]*",?/g;

/** Objects by kind/name, with what only one of the two tools adds taken out: kustomize's ConfigMap hash suffix, helm's checksum annotation and its own labels. */
function normalized(text: string): Map<string, unknown> {
  const objects = new Map<string, unknown>();
  for (const document of parseAllDocuments(text)) {
    const object = document.toJS() as Manifest | null;
    if (!object) continue;
    const parsed = JSON.parse(
      JSON.stringify(object)
        .replace(/storage-policy-webhook-policies-[a-z0-9]{10}/g, 'storage-policy-webhook-policies')
        .replace(HELM_ONLY_LABELS, '')
        .replace(/,}/g, '}'),
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
    assert.match(run(helm, ['lint', '--strict', chart]), /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const rendered = normalized(
      run(helm, [
        'template',
        'storage-policy-webhook',
        chart,
        '--namespace',
        'storage-policy-webhook',
        '--set',
        'createNamespace=true',
        '--skip-tests',
      ]),
    );
    const base = normalized(run(join(bin, 'kubectl'), ['kustomize', join(ROOT, 'deploy')]));
    assert.deepEqual([...rendered.keys()].sort(), [...base.keys()].sort());
    for (const [key, object] of base) assert.deepEqual(rendered.get(key), object, key);
  });

  it('policyReports.enabled (either report API), ciReader.enabled and admissionPolicies.enabled render what deploy/components/policy-reports, openreports, ci-reader and admission-policies add to the base', async () => {
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
        ['admission-policies', 'admissionPolicies.enabled=true', 'ClusterRole/storage-policy-webhook-floor'],
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
          '--skip-tests',
        ];
        const extra =
          component === 'ci-reader' || component === 'admission-policies'
            ? []
            : ['--set', 'policyReports.enabled=true'];
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
          withoutCrds.has('ClusterRole/x-storage-policy-webhook-reports'),
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
        run(helm, [
          'template',
          'storage-policy-webhook',
          chart,
          '--namespace',
          'guardrails',
          ...set.flatMap((value) => ['--set', value]),
        ]),
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

  it('values.schema.json refuses unknown keys, wrong enums and wrong types, each named', () => {
    const helm = LocalCluster.buildHelm();
    const chart = join(ROOT, 'deploy/chart');
    const refused = spawnSync(
      helm,
      [
        'template',
        'spw',
        chart,
        ...['webhook.failurePolicy=fail', 'replica=3', 'certificates.source=certmanager', 'replicas=two']
          .map((value) => ['--set', value])
          .flat(),
        '--set-string',
        'webhook.timeoutSeconds=5',
      ],
      { encoding: 'utf8' },
    );
    assert.notEqual(refused.status, 0);
    for (const expected of [
      /\/webhook\/failurePolicy': value must be one of 'Fail', 'Ignore'/,
      /additional properties 'replica' not allowed/,
      /\/certificates\/source': value must be one of 'managed', 'secret', 'certManager'/,
      /\/replicas': got string, want integer/,
      /\/webhook\/timeoutSeconds': got string, want integer/,
    ])
      assert.match(refused.stderr, expected);
  });

  it('every value set: names, labels, image, placement, pod metadata, extra env and args, security contexts, monitoring, dashboard and test', () => {
    const helm = LocalCluster.buildHelm();
    const chart = join(ROOT, 'deploy/chart');
    const values = {
      fullnameOverride: 'guard',
      image: {
        registry: 'registry.example.com',
        repository: 'mirror/spw',
        tag: '9.9.9',
        digest: `sha256:${'a'.repeat(64)}`,
        pullPolicy: 'Always',
      },
      imagePullSecrets: [{ name: 'pull' }],
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'platform', effect: 'NoSchedule' }],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['system'] }] }],
          },
        },
      },
      topologySpreadConstraints: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { 'app.kubernetes.io/instance': '{{ .Release.Name }}' } },
        },
      ],
      podLabels: { team: 'platform' },
      podAnnotations: { 'example.com/scrape': 'false' },
      extraEnv: [{ name: 'EXTRA', value: '1' }],
      extraArgs: ['--max-body-bytes=4194304'],
      podSecurityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        runAsUser: 1000,
      },
      serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'kps' } },
      prometheusRule: {
        enabled: true,
        labels: { release: 'kps' },
        certificateExpiryDays: 7,
        auditIntervalSeconds: 600,
      },
      grafanaDashboard: { enabled: true, namespace: 'monitoring' },
      test: { namespace: 'apps' },
    };
    const file = join(ROOT, 'dist', 'chart-values-all.json');
    writeFileSync(file, JSON.stringify(values));
    const text = run(helm, ['template', 'spw', chart, '--namespace', 'guardrails', '-f', file]);
    const objects = new Map<string, unknown>();
    for (const document of parseAllDocuments(text)) {
      const object = document.toJS() as Manifest | null;
      if (object) objects.set(`${object.kind}/${object.metadata.name}`, object);
    }
    for (const key of objects.keys()) assert.match(key, /\/guard(-[a-z-]+)?$/, `${key} is named after the release`);
    const field = (key: string, path: string): unknown =>
      path
        .split('.')
        .reduce<unknown>((value, token) => (value as Record<string, unknown> | undefined)?.[token], objects.get(key));
    const pod = (path: string) => field('Deployment/guard', `spec.template.${path}`);
    assert.equal(pod('spec.containers.0.image'), `registry.example.com/mirror/spw@sha256:${'a'.repeat(64)}`);
    assert.equal(pod('spec.containers.0.imagePullPolicy'), 'Always');
    assert.deepEqual(pod('spec.imagePullSecrets'), [{ name: 'pull' }]);
    assert.deepEqual(pod('spec.nodeSelector'), { 'kubernetes.io/os': 'linux' });
    assert.equal(pod('spec.tolerations.0.key'), 'dedicated');
    assert.ok(
      pod('spec.affinity.nodeAffinity') && !pod('spec.affinity.podAntiAffinity'),
      'affinity replaces the default',
    );
    assert.equal(
      pod('spec.topologySpreadConstraints.0.labelSelector.matchLabels.app.kubernetes.io/instance'),
      undefined,
    );
    assert.deepEqual(pod('spec.topologySpreadConstraints.0.labelSelector.matchLabels'), {
      'app.kubernetes.io/instance': 'spw',
    });
    assert.deepEqual(
      [pod('metadata.labels.team'), (pod('metadata.labels') as Record<string, string>)['app.kubernetes.io/instance']],
      ['platform', 'spw'],
    );
    assert.deepEqual(pod('metadata.annotations'), {
      'checksum/policies': (pod('metadata.annotations') as Record<string, string>)['checksum/policies'],
      'example.com/scrape': 'false',
    });
    assert.ok((pod('spec.containers.0.args') as string[]).includes('--max-body-bytes=4194304'));
    const env = Object.fromEntries(
      (pod('spec.containers.0.env') as Array<{ name: string; value?: string }>).map((variable) => [
        variable.name,
        variable.value,
      ]),
    );
    assert.deepEqual(
      [env['EXTRA'], env['SERVICE_NAME'], env['TLS_SECRET'], env['WEBHOOK_CONFIGURATION']],
      ['1', 'guard', 'guard-tls', 'guard'],
    );
    assert.equal(pod('spec.securityContext.fsGroup'), 1000);
    assert.equal(pod('spec.containers.0.securityContext.runAsUser'), 1000);
    assert.equal(
      (field('Deployment/guard', 'metadata.labels') as Record<string, string>)['helm.sh/chart'],
      'storage-policy-webhook-0.1.0',
    );
    assert.deepEqual(field('ClusterRole/guard-certificates', 'rules.0.resourceNames'), ['guard']);
    assert.equal(
      (field('Service/guard-metrics', 'metadata.labels') as Record<string, string>)['app.kubernetes.io/component'],
      'metrics',
    );
    assert.equal(field('ServiceMonitor/guard', 'metadata.labels.release'), 'kps');
    assert.equal(field('ServiceMonitor/guard', 'spec.endpoints.0.interval'), '15s');
    assert.equal(
      (field('ServiceMonitor/guard', 'spec.selector.matchLabels') as Record<string, string>)[
        'app.kubernetes.io/component'
      ],
      'metrics',
    );
    assert.equal(field('ConfigMap/guard-dashboard', 'metadata.namespace'), 'monitoring');
    assert.equal(field('ConfigMap/guard-dashboard', 'metadata.labels.grafana_dashboard'), '1');
    assert.deepEqual(field('Pod/guard-test', 'spec.containers.0.args'), ['check', '--namespace', 'apps']);
    assert.equal(field('Role/guard-test', 'metadata.namespace'), 'apps');
    // Every PromQL expression parses with Prometheus's own grammar (@prometheus-io/lezer-promql), the rules' and the dashboard's.
    const rules = field('PrometheusRule/guard', 'spec.groups.0.rules') as Array<{ alert: string; expr: string }>;
    assert.deepEqual(rules.map((rule) => rule.alert).sort(), [
      'StoragePolicyNamespaceNearCostBudget',
      'StoragePolicyWebhookAdmissionErrors',
      'StoragePolicyWebhookAuditStale',
      'StoragePolicyWebhookCacheNotSynced',
      'StoragePolicyWebhookCertificateExpiring',
      'StoragePolicyWebhookDown',
      'StoragePolicyWebhookFailingOpen',
      'StoragePolicyWebhookPolicyReloadFailing',
      'StoragePolicyWebhookRejectedByApiServer',
    ]);
    assert.match(
      rules.find((rule) => rule.alert === 'StoragePolicyWebhookCertificateExpiring')?.expr ?? '',
      /< 604800$/,
    );
    const dashboardJson = (field('ConfigMap/guard-dashboard', 'data') as Record<string, string>)[
      'storage-policy-webhook.json'
    ];
    const panels = (JSON.parse(dashboardJson ?? '{}') as { panels: Array<{ targets: Array<{ expr: string }> }> })
      .panels;
    const expressions = [
      ...rules.map((rule) => rule.expr),
      ...panels.flatMap((panel) =>
        panel.targets.map((target) =>
          target.expr.replace(/\$__rate_interval/g, '5m').replace(/\$(namespace|service)/g, 'x'),
        ),
      ),
    ];
    for (const expression of expressions) assert.deepEqual(promqlErrors(expression), [], expression);
    assert.ok(promqlErrors('sum(rate(x[5m]) >').length > 0, 'the parser finds errors');
  });

  it("promtool (built from the Go module proxy) checks the PrometheusRule's groups and runs test/e2e/fixtures/alerts.promtool.yaml: every alert fires from synthetic series of its failure and none while healthy; a broken rule fails both", async () => {
    const helm = LocalCluster.buildHelm();
    const promtool = LocalCluster.buildPromtool();
    const text = run(helm, [
      'template',
      'spw',
      join(ROOT, 'deploy/chart'),
      '--namespace',
      'storage-policy-webhook',
      '--set',
      'prometheusRule.enabled=true',
    ]);
    const rule = parseAllDocuments(text)
      .map((document) => document.toJS() as Manifest | null)
      .find((object) => object?.kind === 'PrometheusRule');
    assert.ok(rule, 'the chart renders a PrometheusRule');
    const dir = await mkdtemp(join(tmpdir(), 'promtool-'));
    try {
      const groups = (rule['spec'] as { groups: Array<{ rules: unknown[] }> }).groups;
      await writeFile(join(dir, 'rules.yaml'), stringify({ groups }));
      await cp(join(ROOT, 'test/e2e/fixtures/alerts.promtool.yaml'), join(dir, 'alerts.promtool.yaml'));
      const promtoolIn = (...args: string[]) =>
        spawnSync(promtool, args, { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      const checked = promtoolIn('check', 'rules', 'rules.yaml');
      assert.equal(checked.status, 0, checked.stdout + checked.stderr);
      assert.match(checked.stdout, new RegExp(`SUCCESS: ${groups[0]?.rules.length ?? 0} rules found`));
      const tested = promtoolIn('test', 'rules', 'alerts.promtool.yaml');
      assert.equal(tested.status, 0, tested.stdout + tested.stderr);
      // A threshold moved past what the series show: the alert no longer fires and the test says so.
      await writeFile(
        join(dir, 'rules.yaml'),
        stringify({ groups }).replace(
          '/ sum(rate(storage_policy_admission_duration_seconds_count',
          '/ 100 / sum(rate(storage_policy_admission_duration_seconds_count',
        ),
      );
      const broken = promtoolIn('test', 'rules', 'alerts.promtool.yaml');
      assert.notEqual(broken.status, 0);
      assert.match(broken.stdout + broken.stderr, /StoragePolicyWebhookAdmissionErrors/);
      await writeFile(join(dir, 'rules.yaml'), stringify({ groups }).replace('absent(up{', 'absent(up{{'));
      assert.notEqual(
        promtoolIn('check', 'rules', 'rules.yaml').status,
        0,
        'a rule that does not parse fails the check',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
