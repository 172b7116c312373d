import { parameterValue } from './capabilities.js';
import { roundUpGiB } from './quantity.js';
import type { AttributesClassInfo, StorageClassInfo } from './storage.js';

// AWS EBS provisioning as aws-ebs-csi-driver does it (v1.50 and later). The in-tree kubernetes.io/aws-ebs
// plugin is gone (CSI migration GA 1.25, removed 1.27): csi-translation-lib (plugins/aws_ebs.go) hands such a
// class to ebs.csi.aws.com with type, iops and iopsPerGB passed through, so both names follow these facts.
//
// Every limit names its source. They move (io2 went from 500 to 1000 IOPS/GiB in driver v1.44, gp3 from
// 16,000 to 80,000 IOPS in 2025), so a policy can override any of them (spec.providerLimits.ebs); docs/
// storage-facts.md is checked against this table by a test.

const EBS_CSI = 'ebs.csi.aws.com';
const EBS_IN_TREE = 'kubernetes.io/aws-ebs';

export function isEbsProvisioner(provisioner: string): boolean {
  return provisioner === EBS_CSI || provisioner === EBS_IN_TREE;
}

interface Sourced {
  value: number;
  source: string;
}

interface EbsTypeFacts {
  minGiB: Sourced;
  maxGiB: Sourced;
  /** Types that take `iops`/`iopsPerGB`; the driver ignores them elsewhere. */
  iops?: { min: Sourced; max: Sourced; maxPerGiB: Sourced };
  /** Types that take `throughput` (MiB/s). */
  throughput?: { baseline: Sourced; max: Sourced; maxPerIops: Sourced };
}

const TIB = 1024;
const CLOUD_GO = 'aws-ebs-csi-driver pkg/cloud/cloud.go';
const AWS_TYPES = 'AWS EBS User Guide, Amazon EBS volume types';
const fact = (value: number, source: string): Sourced => ({ value, source });

export const EBS_FACTS: Readonly<Record<string, EbsTypeFacts>> = {
  gp3: {
    minGiB: fact(1, AWS_TYPES),
    maxGiB: fact(64 * TIB, `${AWS_TYPES} (gp3 up to 64 TiB since September 2025)`),
    iops: {
      min: fact(3000, `${CLOUD_GO} gp3MinTotalIOPS`),
      max: fact(
        80000,
        `${AWS_TYPES} (gp3 up to 80,000 IOPS since September 2025, region-dependent; driver v1.50.0 reads the region's cap with a CreateVolume dry run, CHANGELOG v1.50.0 #2682; its fallback gp3FallbackMaxIOPS is 16000)`,
      ),
      maxPerGiB: fact(500, `${CLOUD_GO} gp3MaxIOPSPerGB`),
    },
    throughput: {
      baseline: fact(125, 'aws-ebs-csi-driver docs/parameters.md (throughput default 125)'),
      max: fact(2000, `${AWS_TYPES} (gp3 up to 2,000 MiB/s since September 2025)`),
      maxPerIops: fact(0.25, `${AWS_TYPES} (at most 0.25 MiB/s per provisioned IOPS)`),
    },
  },
  io1: {
    minGiB: fact(4, AWS_TYPES),
    maxGiB: fact(16 * TIB, AWS_TYPES),
    iops: {
      min: fact(100, `${CLOUD_GO} io1MinTotalIOPS`),
      max: fact(64000, `${CLOUD_GO} io1FallbackMaxIOPS`),
      maxPerGiB: fact(50, `${CLOUD_GO} io1MaxIOPSPerGB`),
    },
  },
  io2: {
    minGiB: fact(4, AWS_TYPES),
    maxGiB: fact(
      64 * TIB,
      `${AWS_TYPES} (every io2 volume is Block Express; blockExpress has no effect since driver v1.47.0, CHANGELOG v1.47.0 #2564)`,
    ),
    iops: {
      min: fact(100, `${CLOUD_GO} io2MinTotalIOPS`),
      max: fact(
        256000,
        `${CLOUD_GO} io2FallbackMaxIOPS (256,000 for every io2 volume since v1.47.0, CHANGELOG v1.47.0 #2564)`,
      ),
      maxPerGiB: fact(1000, `${CLOUD_GO} io2MaxIOPSPerGB (1000 since v1.44.0, CHANGELOG v1.44.0 #2475)`),
    },
  },
  gp2: { minGiB: fact(1, AWS_TYPES), maxGiB: fact(16 * TIB, AWS_TYPES) },
  st1: { minGiB: fact(125, AWS_TYPES), maxGiB: fact(16 * TIB, AWS_TYPES) },
  sc1: { minGiB: fact(125, AWS_TYPES), maxGiB: fact(16 * TIB, AWS_TYPES) },
  standard: { minGiB: fact(1, AWS_TYPES), maxGiB: fact(TIB, AWS_TYPES) },
};

/** What a policy may override per volume type (spec.providerLimits.ebs.<type>). */
interface EbsLimitOverride {
  minGiB?: number;
  maxGiB?: number;
  minIops?: number;
  maxIops?: number;
  maxIopsPerGiB?: number;
  maxThroughput?: number;
  maxThroughputPerIops?: number;
}

/** The limits in force for one type: the facts table, with a policy's overrides applied. */
export interface EbsLimits {
  type: string;
  minGiB: number;
  maxGiB: number;
  iops: { min: number; max: number; maxPerGiB: number } | undefined;
  throughput: { baseline: number; max: number; maxPerIops: number } | undefined;
  /** The override's owner, for messages: a limit that is not the driver's says whose it is. */
  overriddenBy: string | undefined;
}

export function ebsLimits(
  type: string,
  override: { policy: string; limits: EbsLimitOverride } | undefined,
): EbsLimits | undefined {
  const facts = EBS_FACTS[type];
  if (!facts) return undefined;
  const o = override?.limits ?? {};
  return {
    type,
    minGiB: o.minGiB ?? facts.minGiB.value,
    maxGiB: o.maxGiB ?? facts.maxGiB.value,
    iops: facts.iops && {
      min: o.minIops ?? facts.iops.min.value,
      max: o.maxIops ?? facts.iops.max.value,
      maxPerGiB: o.maxIopsPerGiB ?? facts.iops.maxPerGiB.value,
    },
    throughput: facts.throughput && {
      baseline: facts.throughput.baseline.value,
      max: o.maxThroughput ?? facts.throughput.max.value,
      maxPerIops: o.maxThroughputPerIops ?? facts.throughput.maxPerIops.value,
    },
    overriddenBy: override?.policy,
  };
}

/**
 * The driver's integer parse (pkg/driver/controller.go: strconv.ParseInt(value, 10, 32)): "050" and "+50"
 * are 50; anything else fails CreateVolume and the claim stays Pending.
 */
export function parseDriverInteger(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= -(2 ** 31) && value < 2 ** 31 ? value : undefined;
}

export interface EbsClassSettings {
  provisioner: string;
  type: string;
  /** Raw parameter text, as the class has it; a value that parses to 0 is the driver's "not set". */
  iopsPerGBText: string | undefined;
  iopsText: string | undefined;
  throughputText: string | undefined;
  allowAutoIncrease: boolean;
}

function setParameter(parameters: Record<string, string>, key: string): string | undefined {
  const text = parameterValue(parameters, key);
  return text === undefined || parseDriverInteger(text) === 0 ? undefined : text;
}

/**
 * The parameters a volume is provisioned or modified with: a VolumeAttributesClass's override the
 * StorageClass's (type, iops, throughput). A fixed iops from the VAC replaces the class's iopsPerGB.
 */
export function effectiveParameters(
  classParameters: Record<string, string>,
  attributes: Record<string, string> | undefined,
): Record<string, string> {
  if (!attributes) return classParameters;
  const overridden = new Set(Object.keys(attributes).map((key) => key.toLowerCase()));
  if (overridden.has('iops')) overridden.add('iopspergb');
  const kept = Object.entries(classParameters).filter(([key]) => !overridden.has(key.toLowerCase()));
  return Object.fromEntries([...kept, ...Object.entries(attributes)]);
}

/** EBS parameter names are case-insensitive (the driver lower-cases them); gp3 is the type when none is set. */
export function readEbsClass(provisioner: string, parameters: Record<string, string>): EbsClassSettings {
  return {
    provisioner,
    type: (parameterValue(parameters, 'type') ?? 'gp3').toLowerCase(),
    iopsPerGBText: setParameter(parameters, 'iopsPerGB'),
    iopsText: setParameter(parameters, 'iops'),
    throughputText: setParameter(parameters, 'throughput'),
    allowAutoIncrease: parameterValue(parameters, 'allowAutoIOPSPerGBIncrease') === 'true',
  };
}

export type IopsQuote =
  | { outcome: 'none' }
  | {
      outcome: 'provisioned';
      iops: number;
      requested: number;
      adjustment: 'none' | 'raised-to-minimum' | 'capped-at-type-maximum' | 'capped-per-gib';
    }
  | { outcome: 'fails'; requested: number; minimum: number };

/**
 * The IOPS the driver asks EC2 for, for a volume of `gib` whole GiB (cloud.go capIOPS): below the minimum
 * raised only with allowAutoIOPSPerGBIncrease (else CreateVolume fails), then capped at the type maximum,
 * then at maxPerGiB x GiB where that cap is not below the minimum. For budgets the maximum is the most a
 * volume can get (gp3's cap varies by region: the highest).
 */
export function quoteIops(settings: EbsClassSettings, gib: number, limits: EbsLimits | undefined): IopsQuote {
  const iopsLimits = limits?.iops;
  if (!iopsLimits) return { outcome: 'none' };
  const perGiB = settings.iopsPerGBText === undefined ? undefined : parseDriverInteger(settings.iopsPerGBText);
  const fixed = settings.iopsText === undefined ? undefined : parseDriverInteger(settings.iopsText);
  const requested = perGiB !== undefined ? gib * perGiB : fixed;
  if (requested === undefined || requested <= 0) return { outcome: 'none' };
  let iops = requested;
  let adjustment: 'none' | 'raised-to-minimum' | 'capped-at-type-maximum' | 'capped-per-gib' = 'none';
  if (iops < iopsLimits.min) {
    if (!settings.allowAutoIncrease) return { outcome: 'fails', requested, minimum: iopsLimits.min };
    iops = iopsLimits.min;
    adjustment = 'raised-to-minimum';
  }
  if (iops > iopsLimits.max) {
    iops = iopsLimits.max;
    adjustment = 'capped-at-type-maximum';
  }
  const byCapacity = iopsLimits.maxPerGiB * gib;
  if (iops > byCapacity && byCapacity >= iopsLimits.min) {
    iops = byCapacity;
    adjustment = 'capped-per-gib';
  }
  return { outcome: 'provisioned', iops, requested, adjustment };
}

export type ThroughputQuote =
  | { outcome: 'none' }
  | { outcome: 'provisioned'; mibps: number; requested: boolean }
  | { outcome: 'fails'; mibps: number; reason: 'below-baseline' | 'above-maximum' | 'above-ratio'; limit: number };

/**
 * The throughput (MiB/s) a gp3 volume gets: the class's `throughput`, or the 125 MiB/s baseline. EC2 refuses
 * less than the baseline, more than the type maximum, or more than maxPerIops per provisioned IOPS (the
 * volume's IOPS, or gp3's 3000 baseline when none are provisioned), and the claim sits Pending.
 */
export function quoteThroughput(
  settings: EbsClassSettings,
  limits: EbsLimits | undefined,
  iops: IopsQuote,
): ThroughputQuote {
  const throughputLimits = limits?.throughput;
  if (!throughputLimits) return { outcome: 'none' };
  const parsed = settings.throughputText === undefined ? undefined : parseDriverInteger(settings.throughputText);
  const mibps = parsed !== undefined && parsed > 0 ? parsed : throughputLimits.baseline;
  const provisionedIops = iops.outcome === 'provisioned' ? iops.iops : (limits.iops?.min ?? 0);
  if (mibps < throughputLimits.baseline)
    return { outcome: 'fails', mibps, reason: 'below-baseline', limit: throughputLimits.baseline };
  if (mibps > throughputLimits.max)
    return { outcome: 'fails', mibps, reason: 'above-maximum', limit: throughputLimits.max };
  const byIops = Math.floor(provisionedIops * throughputLimits.maxPerIops);
  if (mibps > byIops) return { outcome: 'fails', mibps, reason: 'above-ratio', limit: byIops };
  return { outcome: 'provisioned', mibps, requested: parsed !== undefined && parsed > 0 };
}

/** IOPS and throughput (MiB/s) a volume provisions. */
export interface Provisioned {
  iops: number;
  throughputMiBps: number;
}

/** What a claim of `requestBytes` provisions from its class (and VolumeAttributesClass), by the facts table: the most a volume can get. */
export function provisionedBy(
  storageClass: StorageClassInfo | undefined,
  attributes: AttributesClassInfo | undefined,
  requestBytes: number | undefined,
): Provisioned {
  if (!storageClass || requestBytes === undefined || !isEbsProvisioner(storageClass.provisioner))
    return { iops: 0, throughputMiBps: 0 };
  const settings = readEbsClass(
    storageClass.provisioner,
    effectiveParameters(storageClass.parameters, attributes?.parameters),
  );
  const limits = ebsLimits(settings.type, undefined);
  const iops = quoteIops(settings, roundUpGiB(requestBytes), limits);
  const throughput = quoteThroughput(settings, limits, iops);
  return {
    iops: iops.outcome === 'provisioned' ? iops.iops : 0,
    throughputMiBps: throughput.outcome === 'provisioned' ? throughput.mibps : 0,
  };
}
