import { stringAt, type JsonObject } from '../core/json.js';
import { readManifests } from '../io/manifests.js';
import { formatProblem } from '../io/yaml.js';
import { ClusterState } from './cluster-state.js';

/** Fills a ClusterState with the StorageClasses, VolumeAttributesClasses, Namespaces, Nodes, PVCs and StatefulSets among the objects. */
export function addToState(state: ClusterState, objects: JsonObject[]): void {
  for (const object of objects) {
    switch (stringAt(object, 'kind')) {
      case 'StorageClass':
        state.upsertStorageClass(object);
        break;
      case 'VolumeAttributesClass':
        state.upsertAttributesClass(object);
        break;
      case 'Namespace':
        state.upsertNamespace(object);
        break;
      case 'Node':
        state.upsertNode(object);
        break;
      case 'PersistentVolumeClaim':
        if (stringAt(object, 'metadata', 'namespace') !== undefined) state.upsertClaim(object);
        break;
      case 'StatefulSet':
        state.upsertStatefulSet(object);
        break;
    }
  }
}

/**
 * The offline stand-in for the cluster: a YAML file (or folder) of StorageClasses, Namespaces and
 * existing PersistentVolumeClaims, as `kubectl get -o yaml` prints them.
 */
export async function loadInventory(paths: string[]): Promise<ClusterState> {
  const { manifests, problems } = await readManifests(paths);
  if (problems.length > 0) throw new Error(`invalid inventory:\n${problems.map(formatProblem).join('\n')}`);
  const state = new ClusterState();
  addToState(
    state,
    manifests.map((manifest) => manifest.object),
  );
  return state;
}
