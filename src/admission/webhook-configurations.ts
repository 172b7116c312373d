import { isObject, type JsonObject, type JsonValue } from '../core/json.js';
import { OPT_OUT_LABEL } from '../core/selectors.js';
import {
  GOVERNED_KINDS,
  isMutable,
  isScaleJudged,
  operationsOf,
  resourceOf,
  type GovernedKind,
} from '../core/kinds.js';
import { RULE_FAMILIES } from '../rules/registry.js';
import { matchConditions } from './match-conditions.js';

// The two webhook configurations' entries, in one place: the webhook registers them itself (serve --certificates
// managed), `storage-policy certs` writes them, and the chart's static template is compared with them by a test.

export type FailurePolicy = 'Fail' | 'Ignore';

export const FAILURE_POLICIES: readonly FailurePolicy[] = ['Fail', 'Ignore'];

export function isFailurePolicy(value: string): value is FailurePolicy {
  return (FAILURE_POLICIES as readonly string[]).includes(value);
}

/** What the API server calls: the Service in front of the pods, or a URL (a webhook outside the cluster). */
export type WebhookTarget = { service: { name: string; namespace: string; port: number } } | { url: string };

export interface WebhookRegistration {
  target: WebhookTarget;
  /** PEM bundle of the CAs the API server trusts for this webhook. */
  caBundle: string;
  failurePolicy: FailurePolicy;
  timeoutSeconds: number;
  /** Namespaces never sent to the webhook (kube-system, its own). */
  excludedNamespaces: readonly string[];
}

/**
 * The rules of an entry, from the kind table: one rule per API group, version, scope and operations, listing
 * the resources of the kinds that share them.
 */
function rulesFor(kinds: readonly GovernedKind[]): JsonObject[] {
  const rules = new Map<string, JsonObject & { resources: string[] }>();
  for (const kind of kinds) {
    const { group, version, resource, scope } = resourceOf(kind);
    const operations = [...operationsOf(kind)];
    const key = JSON.stringify([group, version, scope, operations]);
    const rule = rules.get(key) ?? { apiGroups: [group], apiVersions: [version], operations, resources: [], scope };
    rule.resources.push(resource);
    rules.set(key, rule);
  }
  return [...rules.values()];
}

/** The scale subresources the validating entry is sent (UPDATE only: a Scale is never created). */
function scaleRules(kinds: readonly GovernedKind[]): JsonObject[] {
  return kinds.filter(isScaleJudged).map((kind) => {
    const { group, version, resource, scope } = resourceOf(kind);
    return {
      apiGroups: [group],
      apiVersions: [version],
      operations: ['UPDATE'],
      resources: [`${resource}/scale`],
      scope,
    };
  });
}

/**
 * The validating entry is sent every governed kind; the mutating one only the kinds a patch may write (core/kinds.ts):
 * a Pod, a workload or a static volume never waits for a mutation that cannot happen.
 */
const RULES = {
  validating: [...rulesFor(GOVERNED_KINDS), ...scaleRules(GOVERNED_KINDS)],
  mutating: rulesFor(GOVERNED_KINDS.filter(isMutable)),
};

const KINDS = {
  mutating: {
    kind: 'MutatingWebhookConfiguration',
    resource: 'mutatingwebhookconfigurations',
    webhook: 'mutate.storage-policy-webhook.io',
    path: '/mutate',
  },
  validating: {
    kind: 'ValidatingWebhookConfiguration',
    resource: 'validatingwebhookconfigurations',
    webhook: 'validate.storage-policy-webhook.io',
    path: '/validate',
  },
} as const;

type ConfigurationType = keyof typeof KINDS;

export const CONFIGURATION_TYPES = Object.keys(KINDS) as ConfigurationType[];

/** The API resource of a configuration type, for its REST path. */
export function configurationResource(type: ConfigurationType): string {
  return KINDS[type].resource;
}

function clientConfig(target: WebhookTarget, path: string, caBundle: string): JsonObject {
  const encoded = Buffer.from(caBundle).toString('base64');
  if ('url' in target) return { url: new URL(path, target.url).toString(), caBundle: encoded };
  return {
    service: { name: target.service.name, namespace: target.service.namespace, path, port: target.service.port },
    caBundle: encoded,
  };
}

/** The one webhook entry of a configuration. */
export function webhookEntry(type: ConfigurationType, registration: WebhookRegistration): JsonObject {
  const { webhook, path } = KINDS[type];
  return {
    name: webhook,
    admissionReviewVersions: ['v1'],
    // kubectl apply --dry-run=server reaches only webhooks without side effects.
    sideEffects: 'None',
    timeoutSeconds: registration.timeoutSeconds,
    failurePolicy: registration.failurePolicy,
    matchPolicy: 'Equivalent',
    // Patches are idempotent, so running again after other mutating webhooks is safe.
    ...(type === 'mutating' ? { reinvocationPolicy: 'IfNeeded' } : {}),
    clientConfig: clientConfig(registration.target, path, registration.caBundle),
    rules: RULES[type],
    // Cluster-scoped StorageClasses and VolumeAttributesClasses are always sent: no namespace to select.
    namespaceSelector: {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...registration.excludedNamespaces] },
        { key: OPT_OUT_LABEL, operator: 'NotIn', values: ['true'] },
      ],
    },
    matchConditions: matchConditions(RULE_FAMILIES),
  };
}

/** Both configurations, whole, named `name`. */
export function webhookConfigurations(name: string, registration: WebhookRegistration): JsonObject[] {
  return CONFIGURATION_TYPES.map((type) => ({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: KINDS[type].kind,
    metadata: { name },
    webhooks: [webhookEntry(type, registration)],
  }));
}

/**
 * True when every field `wanted` sets has that value in `actual`: the API server adds defaults (objectSelector,
 * port) that a registration does not set, so a stored entry is compared with what was asked, not for equality.
 */
export function setsAll(actual: JsonValue | undefined, wanted: JsonValue): boolean {
  if (Array.isArray(wanted))
    return (
      Array.isArray(actual) &&
      actual.length === wanted.length &&
      wanted.every((item, index) => setsAll(actual[index], item))
    );
  if (isObject(wanted))
    return isObject(actual) && Object.entries(wanted).every(([key, value]) => setsAll(actual[key], value));
  return actual === wanted;
}
