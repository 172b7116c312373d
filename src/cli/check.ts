import { randomBytes } from 'node:crypto';
import { CHECK_ANNOTATION } from '../admission/handler.js';
import { isObject, stringAt } from '../core/json.js';
import { EXIT, stringOption, type OptionSpec, type ParsedOptions } from './options.js';
import type { CommandOutput } from './authoring.js';

// Is the webhook in the write path? A dry-run claim (never stored) created through the API server, as kubectl
// apply --dry-run=server would; the validating webhook answers a check claim with a warning that names it. What the
// API server answers says which part of the path is broken. The chart's helm test runs this in a pod.

export const CHECK_OPTIONS: OptionSpec[] = [
  {
    name: 'namespace',
    short: 'n',
    type: 'string',
    default: 'default',
    help: 'a namespace the webhook is sent (not its own, not an excluded one); the claim is a dry run, nothing is stored',
  },
  { name: 'kubeconfig', type: 'string', help: 'the cluster (default: $KUBECONFIG, else ~/.kube/config, else the pod)' },
  { name: 'context', type: 'string', help: 'the kubeconfig context to use' },
];

export async function checkCommand(values: ParsedOptions): Promise<CommandOutput> {
  const { loadUserKubeConfig, exchange } = await import('../lookup/kube-api.js');
  const namespace = stringOption(values, 'namespace') ?? 'default';
  const nonce = randomBytes(6).toString('hex');
  const claim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: `storage-policy-check-${nonce}`, namespace, annotations: { [CHECK_ANNOTATION]: nonce } },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
  let answer;
  try {
    const config = await loadUserKubeConfig(stringOption(values, 'kubeconfig'), stringOption(values, 'context'));
    answer = await exchange(config, {
      method: 'POST',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/persistentvolumeclaims?dryRun=All`,
      body: claim,
    });
  } catch (error) {
    return { code: EXIT.input, stdout: '', stderr: `cannot reach the API server: ${(error as Error).message}` };
  }
  const answered = answer.warnings.find((warning) => warning.includes(`check ${nonce} answered`));
  const body: unknown = answer.text ? JSON.parse(answer.text) : {};
  const message = isObject(body) ? (stringAt(body, 'message') ?? '') : '';
  if (answered) {
    const outcome = answer.status < 300 ? 'admitted' : `denied by the policies (${message})`;
    return { code: EXIT.ok, stdout: `ok: ${answered}; the dry-run claim in ${namespace} was ${outcome}`, stderr: '' };
  }
  const why =
    answer.status >= 300
      ? `the API server refused the dry run (HTTP ${answer.status}: ${message})`
      : `the claim was admitted without the webhook's answer: the namespace ${namespace} is not sent to it (its own, excluded, labelled storage-policy-webhook.io/ignore), its entries are not registered yet, or failurePolicy Ignore hid a failed call`;
  return { code: EXIT.failed, stdout: '', stderr: `not ok: ${why}` };
}
