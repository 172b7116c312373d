import { parameterValue } from './capabilities.js';

// AWS EBS provisioning as aws-ebs-csi-driver (pkg/cloud) and the in-tree kubernetes.io/aws-ebs plugin do it.

const EBS_CSI = 'ebs.csi.aws.com';
const EBS_IN_TREE = 'kubernetes.io/aws-ebs';

export function isEbsProvisioner(provisioner: string): boolean {
  return provisioner === EBS_CSI || provisioner === EBS_IN_TREE;
}

interface IopsLimits {
  minTotal: number;
  maxTotal: number;
  maxPerGiB: number;
}

interface SizeLimits {
  minGiB: number;
  maxGiB: number;
}

const TIB = 1024;

export function iopsLimitsFor(type: string, blockExpress: boolean): IopsLimits | undefined {
  switch (type) {
    case 'gp3':
      return { minTotal: 3000, maxTotal: 16000, maxPerGiB: 500 };
    case 'io1':
      return { minTotal: 100, maxTotal: 64000, maxPerGiB: 50 };
    case 'io2':
      return { minTotal: 100, maxTotal: blockExpress ? 256000 : 64000, maxPerGiB: 500 };
    default:
      return undefined;
  }
}

export function sizeLimitsFor(type: string, blockExpress: boolean): SizeLimits | undefined {
  switch (type) {
    case 'gp2':
    case 'gp3':
      return { minGiB: 1, maxGiB: 16 * TIB };
    case 'io1':
      return { minGiB: 4, maxGiB: 16 * TIB };
    case 'io2':
      return { minGiB: 4, maxGiB: (blockExpress ? 64 : 16) * TIB };
    case 'st1':
    case 'sc1':
      return { minGiB: 125, maxGiB: 16 * TIB };
    case 'standard':
      return { minGiB: 1, maxGiB: TIB };
    default:
      return undefined;
  }
}

interface EbsClassSettings {
  provisioner: string;
  type: string;
  /** Raw parameter text, as the class has it. */
  iopsPerGBText: string | undefined;
  iopsText: string | undefined;
  allowAutoIncrease: boolean;
  blockExpress: boolean;
}

/** EBS parameter names are case-insensitive in both the CSI driver and the in-tree plugin. */
export function readEbsClass(provisioner: string, parameters: Record<string, string>): EbsClassSettings {
  return {
    provisioner,
    // The CSI driver defaults to gp3; the in-tree plugin defaulted to gp2.
    type: (parameterValue(parameters, 'type') ?? (provisioner === EBS_CSI ? 'gp3' : 'gp2')).toLowerCase(),
    iopsPerGBText: parameterValue(parameters, 'iopsPerGB'),
    iopsText: parameterValue(parameters, 'iops'),
    allowAutoIncrease: parameterValue(parameters, 'allowAutoIOPSPerGBIncrease') === 'true',
    blockExpress: parameterValue(parameters, 'blockExpress') === 'true',
  };
}

/** Types on which the provisioner honours iopsPerGB/iops; elsewhere they are silently ignored. */
export function typesTakingIops(provisioner: string): string[] {
  return provisioner === EBS_IN_TREE ? ['io1'] : ['io1', 'io2', 'gp3'];
}

export function parsePositiveInteger(text: string): number | undefined {
  return /^[1-9][0-9]{0,8}$/.test(text) ? Number(text) : undefined;
}

export type IopsQuote =
  | { outcome: 'none' }
  | { outcome: 'provisioned'; iops: number; requested: number; adjustment: 'none' | 'raised-to-minimum' | 'capped-at-type-maximum' | 'capped-per-gib' }
  | { outcome: 'fails'; requested: number; minimum: number };

/**
 * The IOPS the provisioner will ask EC2 for, for a volume of `gib` whole GiB.
 * CSI (capIOPS): below the minimum is raised only with allowAutoIOPSPerGBIncrease (else CreateVolume
 * fails), then capped at the type maximum, then at maxPerGiB x GiB where that cap is not below the minimum.
 * In-tree: io1 only, clamped to [100, 64000].
 */
export function quoteIops(settings: EbsClassSettings, gib: number): IopsQuote {
  if (!typesTakingIops(settings.provisioner).includes(settings.type)) return { outcome: 'none' };
  const limits = iopsLimitsFor(settings.type, settings.blockExpress);
  if (!limits) return { outcome: 'none' };
  const perGiB = settings.iopsPerGBText === undefined ? undefined : parsePositiveInteger(settings.iopsPerGBText);
  const fixed = settings.iopsText === undefined ? undefined : parsePositiveInteger(settings.iopsText);
  const requested = perGiB !== undefined ? gib * perGiB : fixed;
  if (requested === undefined) return { outcome: 'none' };

  if (settings.provisioner === EBS_IN_TREE) {
    const iops = Math.min(Math.max(requested, limits.minTotal), limits.maxTotal);
    const adjustment = iops > requested ? 'raised-to-minimum' : iops < requested ? 'capped-at-type-maximum' : 'none';
    return { outcome: 'provisioned', iops, requested, adjustment };
  }

  let iops = requested;
  let adjustment: 'none' | 'raised-to-minimum' | 'capped-at-type-maximum' | 'capped-per-gib' = 'none';
  if (iops < limits.minTotal) {
    if (!settings.allowAutoIncrease) return { outcome: 'fails', requested, minimum: limits.minTotal };
    iops = limits.minTotal;
    adjustment = 'raised-to-minimum';
  }
  if (iops > limits.maxTotal) {
    iops = limits.maxTotal;
    adjustment = 'capped-at-type-maximum';
  }
  const byCapacity = limits.maxPerGiB * gib;
  if (iops > byCapacity && byCapacity >= limits.minTotal) {
    iops = byCapacity;
    adjustment = 'capped-per-gib';
  }
  return { outcome: 'provisioned', iops, requested, adjustment };
}
