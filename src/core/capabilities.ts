type AccessMode = 'ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod';
const ACCESS_MODES: readonly AccessMode[] = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];

export function isAccessMode(value: string): value is AccessMode {
  return (ACCESS_MODES as readonly string[]).includes(value);
}

/** A mode a provisioner serves only for some claims or classes. */
interface ConditionalMode {
  mode: AccessMode;
  volumeMode?: 'Filesystem' | 'Block';
  /** StorageClass parameters (keys case-insensitive) that must hold one of the listed values. */
  parameters?: Record<string, string[]>;
  /** Parameters (keys case-insensitive) whose value must be a whole number at least this large. */
  minimumParameters?: Record<string, number>;
  /** Why the condition exists, for the message. */
  condition: string;
  /** The mode is served, but only with care the webhook cannot check: allowed with a warning. */
  caution?: boolean;
}

export interface ProvisionerCapabilities {
  provisioner: string;
  modes: AccessMode[];
  conditional?: ConditionalMode[];
  /** Volume modes the provisioner serves; absent means both. */
  volumeModes?: Array<'Filesystem' | 'Block'>;
  /** CSI drivers reject ReadOnlyMany combined with ReadWriteOnce. */
  csi?: boolean;
}

const csi = (
  provisioner: string,
  modes: AccessMode[],
  extra: Omit<ProvisionerCapabilities, 'provisioner' | 'modes' | 'csi'> = {},
): ProvisionerCapabilities => ({
  provisioner,
  // With current CSI sidecars any driver that serves ReadWriteOnce also serves ReadWriteOncePod.
  modes:
    modes.includes('ReadWriteOnce') && !modes.includes('ReadWriteOncePod') ? [...modes, 'ReadWriteOncePod'] : modes,
  csi: true,
  ...extra,
});

const inTree = (provisioner: string, modes: AccessMode[]): ProvisionerCapabilities => ({ provisioner, modes });

const RWO: AccessMode[] = ['ReadWriteOnce'];
const RWO_ROX: AccessMode[] = ['ReadWriteOnce', 'ReadOnlyMany'];
const ALL_SHARED: AccessMode[] = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany'];

const NATIVE_CAPABILITIES: readonly ProvisionerCapabilities[] = [
  inTree('kubernetes.io/rbd', RWO_ROX),
  inTree('kubernetes.io/glusterfs', ALL_SHARED),
  inTree('kubernetes.io/cephfs', ALL_SHARED),
  inTree('kubernetes.io/nfs', ALL_SHARED),
  inTree('kubernetes.io/quobyte', ALL_SHARED),
  inTree('kubernetes.io/portworx-volume', ['ReadWriteOnce', 'ReadWriteMany']),
  inTree('kubernetes.io/fc', RWO_ROX),
  inTree('kubernetes.io/iscsi', RWO_ROX),
  inTree('kubernetes.io/scaleio', RWO_ROX),
  inTree('kubernetes.io/flocker', RWO),
  inTree('kubernetes.io/photon-pd', RWO),
  inTree('kubernetes.io/storageos', RWO),
  inTree('kubernetes.io/host-path', RWO),
  csi('ebs.csi.aws.com', RWO, {
    conditional: [
      {
        mode: 'ReadWriteMany',
        volumeMode: 'Block',
        parameters: { type: ['io2'] },
        condition: 'needs volumeMode: Block on an io2 class (EBS Multi-Attach)',
      },
    ],
  }),
  csi('efs.csi.aws.com', ['ReadWriteOnce', 'ReadWriteMany'], { volumeModes: ['Filesystem'] }),
  csi('fsx.csi.aws.com', ['ReadWriteOnce', 'ReadWriteMany']),
  csi('pd.csi.storage.gke.io', RWO_ROX, {
    conditional: [
      { mode: 'ReadWriteMany', volumeMode: 'Block', condition: 'needs a multi-writer disk in volumeMode: Block' },
    ],
  }),
  csi('filestore.csi.storage.gke.io', ALL_SHARED),
  csi('disk.csi.azure.com', RWO, {
    conditional: [
      {
        mode: 'ReadOnlyMany',
        volumeMode: 'Block',
        minimumParameters: { maxShares: 2 },
        condition: 'needs a shared disk (maxShares >= 2) in volumeMode: Block',
      },
      {
        mode: 'ReadWriteMany',
        volumeMode: 'Block',
        minimumParameters: { maxShares: 2 },
        condition: 'needs a shared disk (maxShares >= 2) in volumeMode: Block',
      },
    ],
  }),
  csi('file.csi.azure.com', ALL_SHARED),
  csi('cephfs.csi.ceph.com', ALL_SHARED),
  csi('nfs.csi.k8s.io', ALL_SHARED),
  csi('smb.csi.k8s.io', ALL_SHARED),
  csi('rbd.csi.ceph.com', RWO_ROX, {
    conditional: [{ mode: 'ReadWriteMany', volumeMode: 'Block', condition: 'needs volumeMode: Block' }],
  }),
  csi('csi.vsphere.vmware.com', RWO, {
    conditional: [
      { mode: 'ReadOnlyMany', volumeMode: 'Filesystem', condition: 'needs a file volume (volumeMode: Filesystem)' },
      { mode: 'ReadWriteMany', volumeMode: 'Filesystem', condition: 'needs a file volume (volumeMode: Filesystem)' },
    ],
  }),
  csi('driver.longhorn.io', ['ReadWriteOnce', 'ReadWriteMany']),
  csi('cinder.csi.openstack.org', RWO),
  { provisioner: 'rancher.io/local-path', modes: ['ReadWriteOnce', 'ReadWriteOncePod'], volumeModes: ['Filesystem'] },
];

/**
 * In-tree names whose plugins were removed after CSI migration: csi-translation-lib hands their classes to
 * the CSI driver, and csi-provisioner maps access modes like for any CSI driver (RWO with ROX refused).
 */
const MIGRATED: Readonly<Record<string, string>> = {
  'kubernetes.io/aws-ebs': 'ebs.csi.aws.com',
  'kubernetes.io/gce-pd': 'pd.csi.storage.gke.io',
  'kubernetes.io/azure-disk': 'disk.csi.azure.com',
  'kubernetes.io/azure-file': 'file.csi.azure.com',
  'kubernetes.io/cinder': 'cinder.csi.openstack.org',
  'kubernetes.io/vsphere-volume': 'csi.vsphere.vmware.com',
};

/** The CSI driver that serves a provisioner name: itself, or the driver an in-tree name migrated to. */
export function csiDriverOf(provisioner: string): string {
  return MIGRATED[provisioner] ?? provisioner;
}

/**
 * The built-in table: the in-tree plugins as the Kubernetes documentation's access-mode table lists them
 * (kubernetes/website content/en/docs/concepts/storage/persistent-volumes.md, "Access Modes"), each migrated name
 * as its CSI driver, and the CSI drivers above; policies extend or override it per provisioner.
 */
const BUILT_IN_CAPABILITIES: readonly ProvisionerCapabilities[] = [
  ...NATIVE_CAPABILITIES,
  ...Object.entries(MIGRATED).flatMap(([inTreeName, driver]) => {
    const entry = NATIVE_CAPABILITIES.find((candidate) => candidate.provisioner === driver);
    return entry ? [{ ...entry, provisioner: inTreeName }] : [];
  }),
];

export type CapabilityTable = ReadonlyMap<string, ProvisionerCapabilities>;

export function buildCapabilityTable(overrides: readonly ProvisionerCapabilities[] = []): CapabilityTable {
  const table = new Map<string, ProvisionerCapabilities>();
  for (const entry of BUILT_IN_CAPABILITIES) table.set(entry.provisioner, entry);
  for (const entry of overrides) table.set(entry.provisioner, entry);
  return table;
}

/** Parameter keys by their lower-cased form (the first spelling wins), built once per parameters object: classes are long-lived. */
const spellings = new WeakMap<Record<string, string>, Map<string, string>>();

/** The key a class spells a parameter with, compared case-insensitively as the drivers read them. */
export function parameterKey(parameters: Record<string, string>, name: string): string | undefined {
  let keys = spellings.get(parameters);
  if (!keys) {
    keys = new Map();
    for (const key of Object.keys(parameters)) if (!keys.has(key.toLowerCase())) keys.set(key.toLowerCase(), key);
    spellings.set(parameters, keys);
  }
  return keys.get(name.toLowerCase());
}

/** A StorageClass parameter by name, case-insensitively, as the drivers read them. */
export function parameterValue(parameters: Record<string, string>, name: string): string | undefined {
  const key = parameterKey(parameters, name);
  return key === undefined ? undefined : parameters[key];
}

export function conditionHolds(
  condition: ConditionalMode,
  volumeMode: 'Filesystem' | 'Block',
  parameters: Record<string, string>,
): boolean {
  if (condition.volumeMode && condition.volumeMode !== volumeMode) return false;
  for (const [key, allowed] of Object.entries(condition.parameters ?? {})) {
    const value = parameterValue(parameters, key);
    if (value === undefined || !allowed.includes(value.toLowerCase())) return false;
  }
  for (const [key, minimum] of Object.entries(condition.minimumParameters ?? {})) {
    const value = Number(parameterValue(parameters, key));
    if (!Number.isInteger(value) || value < minimum) return false;
  }
  return true;
}
