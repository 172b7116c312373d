import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { webhookEntry } from '../../src/admission/webhook-configurations.js';
import {
  AUDITED_KINDS,
  CACHED_KINDS,
  GOVERNED_KINDS,
  governedKindOfManifest,
  isClusterScoped,
  listPathOf,
  resourceOf,
} from '../../src/core/kinds.js';
import { addToState } from '../../src/lookup/inventory.js';
import { ClusterState } from '../../src/lookup/cluster-state.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `group/resource verb` for every grant of the ClusterRole named `name` among the documents. */
function grants(text: string, name: string): string[] {
  // The chart's template: its expressions stand where names do, so each becomes a plain string to parse.
  const plain = text.replace(/\{\{-?[^}]*-?\}\}/g, 'TEMPLATE');
  const role = parseAllDocuments(plain)
    .map((document) => document.toJS() as { kind?: string; metadata?: { name?: string }; rules?: unknown[] })
    .find((document) => document?.kind === 'ClusterRole' && document.metadata?.name === name);
  assert.ok(role, `a ClusterRole ${name}`);
  const rules = (role.rules ?? []) as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  return rules
    .flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${group}/${resource} ${verb}`)),
      ),
    )
    .sort();
}

describe('the kind table', () => {
  const cachedGrants = CACHED_KINDS.flatMap((kind) => {
    const { group, resource } = resourceOf(kind);
    return ['list', 'watch'].map((verb) => `${group}/${resource} ${verb}`);
  }).sort();

  it("deploy/rbac.yaml grants list and watch on every cached kind, and nothing more, to the webhook's ClusterRole", () => {
    const text = readFileSync(join(ROOT, 'deploy/rbac.yaml'), 'utf8');
    assert.deepEqual(grants(text, 'storage-policy-webhook'), cachedGrants);
  });

  it("the chart's ClusterRole grants the same", () => {
    const text = readFileSync(join(ROOT, 'deploy/chart/templates/rbac.yaml'), 'utf8');
    assert.deepEqual(grants(text, 'TEMPLATE'), cachedGrants);
  });

  const sentBy = (type: 'validating' | 'mutating'): string[] => {
    const entry = webhookEntry(type, {
      target: { url: 'https://127.0.0.1:8443' },
      caBundle: '',
      failurePolicy: 'Ignore',
      timeoutSeconds: 5,
      excludedNamespaces: [],
    });
    const rules = entry['rules'] as Array<{
      apiGroups: string[];
      apiVersions: string[];
      operations: string[];
      resources: string[];
      scope: string;
    }>;
    return rules
      .flatMap((rule) =>
        rule.resources.map(
          (resource) =>
            `${rule.apiGroups.join()}/${rule.apiVersions.join()}/${resource} ${rule.scope} ${rule.operations.join()}`,
        ),
      )
      .sort();
  };

  it('the validating entry sends each governed kind with its operations, and no other resource', () => {
    const sent = sentBy('validating');
    assert.deepEqual(sent, [
      '/v1/persistentvolumeclaims Namespaced CREATE,UPDATE',
      '/v1/persistentvolumes Cluster CREATE,UPDATE',
      '/v1/pods Namespaced CREATE',
      'apps/v1/daemonsets Namespaced CREATE,UPDATE',
      'apps/v1/deployments Namespaced CREATE,UPDATE',
      'apps/v1/replicasets Namespaced CREATE,UPDATE',
      'apps/v1/statefulsets Namespaced CREATE,UPDATE',
      'apps/v1/statefulsets/scale Namespaced UPDATE',
      'batch/v1/cronjobs Namespaced CREATE,UPDATE',
      'batch/v1/jobs Namespaced CREATE',
      'storage.k8s.io/v1/storageclasses Cluster CREATE,UPDATE',
      'storage.k8s.io/v1/volumeattributesclasses Cluster CREATE,UPDATE',
    ]);
    assert.equal(sent.length, GOVERNED_KINDS.length + 1, 'every governed kind, and the StatefulSet scale subresource');
  });

  it('the mutating entry sends only the kinds a patch may write: never a Pod, a workload or a volume', () => {
    assert.deepEqual(sentBy('mutating'), [
      '/v1/persistentvolumeclaims Namespaced CREATE,UPDATE',
      'apps/v1/statefulsets Namespaced CREATE,UPDATE',
      'storage.k8s.io/v1/storageclasses Cluster CREATE,UPDATE',
    ]);
  });

  it("the policy schema's match.kinds are the governed kinds", () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/storage-policy.schema.json'), 'utf8'));
    assert.deepEqual(
      [...schema.properties.spec.properties.match.properties.kinds.items.enum].sort(),
      [...GOVERNED_KINDS].sort(),
    );
  });

  it('every audited kind is cached, and scope, paths and manifest routing follow the table', () => {
    for (const kind of AUDITED_KINDS) assert.ok((CACHED_KINDS as readonly string[]).includes(kind), kind);
    assert.equal(listPathOf('PersistentVolumeClaim'), '/api/v1/persistentvolumeclaims');
    assert.equal(listPathOf('StatefulSet'), '/apis/apps/v1/statefulsets');
    assert.ok(isClusterScoped('StorageClass') && !isClusterScoped('StatefulSet'));
    assert.equal(governedKindOfManifest({ apiVersion: 'apps/v1', kind: 'StatefulSet' }), 'StatefulSet');
    assert.equal(governedKindOfManifest({ apiVersion: 'v1', kind: 'StatefulSet' }), undefined);
    assert.equal(governedKindOfManifest({ apiVersion: 'v1', kind: 'Namespace' }), undefined);
  });

  it('the inventory keeps what the cache keeps, through the same stores', () => {
    const state = new ClusterState();
    addToState(state, [
      {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'gp3' },
        provisioner: 'ebs.csi.aws.com',
      },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { tier: 'gold' } } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ignored' } },
    ]);
    const found = state.storageClass('gp3');
    assert.ok(found.known && found.value?.provisioner === 'ebs.csi.aws.com');
    const labels = state.namespaceLabels('team-a');
    assert.deepEqual(labels.known ? labels.value : undefined, { tier: 'gold' });
    state.remove('StorageClass', '', 'gp3');
    const removed = state.storageClass('gp3');
    assert.ok(removed.known && removed.value === undefined);
  });
});
