import { arrayAt, objectAt, stringAt } from './json.js';
import { podSpecOf, type GovernedKind } from './kinds.js';
import { fieldPath } from './patch.js';

/**
 * A CSI inline volume of a pod spec (volumes[].csi): storage a pod reaches with no claim, no class and no
 * PersistentVolume, handled by the driver alone for the pod's lifetime (CSIDriver volumeLifecycleModes Ephemeral).
 */
export interface InlineCsiVolume {
  name: string;
  driver: string;
  /** Where the driver is written, for messages: `spec.template.spec.volumes[2].csi.driver`. */
  path: string;
}

/** The CSI inline volumes of the object's pod spec; none for a kind without one. */
export function inlineCsiVolumesOf(kind: GovernedKind, object: unknown): InlineCsiVolume[] {
  const podSpec = podSpecOf(kind);
  if (!podSpec) return [];
  return (arrayAt(object, ...podSpec, 'volumes') ?? []).flatMap((volume, index) => {
    const csi = objectAt(volume, 'csi');
    if (!csi) return [];
    return [
      {
        name: stringAt(volume, 'name') ?? '',
        driver: stringAt(csi, 'driver') ?? '',
        path: fieldPath(...podSpec, 'volumes', index, 'csi', 'driver'),
      },
    ];
  });
}
