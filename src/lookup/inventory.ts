import { stringAt, type JsonObject } from '../core/json.js';
import { isCachedKind } from '../core/kinds.js';
import { readManifests } from '../io/manifests.js';
import { formatProblem } from '../io/yaml.js';
import { ClusterState } from './cluster-state.js';

/** Fills a ClusterState with the objects of the kinds the cluster cache keeps (core/kinds.ts), as the cache would. */
export function addToState(state: ClusterState, objects: JsonObject[]): void {
  for (const object of objects) {
    const kind = stringAt(object, 'kind') ?? '';
    if (isCachedKind(kind)) state.upsert(kind, object);
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
