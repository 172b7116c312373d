// What storage costs a month: AWS's published list prices (On-Demand, USD, us-east-1), one row per volume type and
// priced dimension, each with the file it comes from, the publication date and the SKU (docs/storage-facts.md says
// the same and a unit test holds the two, and the importer, against AWS's files). A policy may override any type
// (another region, a negotiated rate); `storage-policy prices import` writes that override from AWS's own files.

/**
 * Where a row was read: `calculator`, AWS Pricing Calculator EBS data (ebs-calculator.json), US East (N. Virginia),
 * published 2025-10-28; `price-list`, AWS Price List API GetProducts for AmazonEFS us-east-1, published 2023-12-06.
 */
type Source = 'calculator' | 'price-list';

/** One published price: what it prices, for what unit, and where it was read. */
export interface PriceRow {
  service: 'ebs' | 'efs';
  /** An EBS volume type, or an EFS storage class. */
  type: string;
  dimension: 'storage' | 'iops' | 'throughput';
  /** For tiered IOPS: the tier's first IOPS (1-based) and last (undefined: no end). */
  tier?: { from: number; to: number | undefined };
  /** USD per GiB-month (storage), per IOPS-month, or per MiB/s-month. */
  price: number;
  sku: string;
  source: Source;
}

/**
 * The default rows. gp3 throughput is published per GiBps-month (40.96 USD), so per MiB/s-month it is 40.96 / 1024.
 * The io2 tier boundaries are not in the data, which lists each tier as its own usage type: they are AWS's EBS
 * pricing page's (the first 32,000 IOPS, 32,001 to 64,000, above 64,000).
 */
export const DEFAULT_PRICE_ROWS: readonly PriceRow[] = [
  { service: 'ebs', type: 'gp3', dimension: 'storage', price: 0.08, sku: 'JG3KUJMBRGHV3N8G', source: 'calculator' },
  { service: 'ebs', type: 'gp3', dimension: 'iops', price: 0.005, sku: '7Q58NR58VQEASA4W', source: 'calculator' },
  {
    service: 'ebs',
    type: 'gp3',
    dimension: 'throughput',
    price: 40.96 / 1024,
    sku: 'SQUFRQX4K92S4SBB',
    source: 'calculator',
  },
  { service: 'ebs', type: 'gp2', dimension: 'storage', price: 0.1, sku: 'HY3BZPP2B6K8MSJF', source: 'calculator' },
  { service: 'ebs', type: 'io1', dimension: 'storage', price: 0.125, sku: 'JR4AM7VS63CTEPMN', source: 'calculator' },
  { service: 'ebs', type: 'io1', dimension: 'iops', price: 0.065, sku: 'D8RDVC722HKNR55G', source: 'calculator' },
  { service: 'ebs', type: 'io2', dimension: 'storage', price: 0.125, sku: '6V576P37PS7K7KYU', source: 'calculator' },
  {
    service: 'ebs',
    type: 'io2',
    dimension: 'iops',
    tier: { from: 1, to: 32_000 },
    price: 0.065,
    sku: 'X9AGQNCQXFA9Q8XZ',
    source: 'calculator',
  },
  {
    service: 'ebs',
    type: 'io2',
    dimension: 'iops',
    tier: { from: 32_001, to: 64_000 },
    price: 0.0455,
    sku: 'KDKG2R3W4NMV7CHP',
    source: 'calculator',
  },
  {
    service: 'ebs',
    type: 'io2',
    dimension: 'iops',
    tier: { from: 64_001, to: undefined },
    price: 0.03185,
    sku: 'AX8G343U7JZBRKJB',
    source: 'calculator',
  },
  { service: 'ebs', type: 'st1', dimension: 'storage', price: 0.045, sku: 'YQT3C842QHBG6XCU', source: 'calculator' },
  { service: 'ebs', type: 'sc1', dimension: 'storage', price: 0.015, sku: '6U5VMCFHHMTH3QW6', source: 'calculator' },
  {
    service: 'ebs',
    type: 'standard',
    dimension: 'storage',
    price: 0.05,
    sku: '269VXUCZZ7E6JNXT',
    source: 'calculator',
  },
  {
    service: 'efs',
    type: 'standard',
    dimension: 'storage',
    price: 0.3,
    sku: 'USE1-TimedStorage-ByteHrs',
    source: 'price-list',
  },
  {
    service: 'efs',
    type: 'infrequentAccess',
    dimension: 'storage',
    price: 0.025,
    sku: 'USE1-IATimedStorage-ByteHrs',
    source: 'price-list',
  },
  {
    service: 'efs',
    type: 'oneZone',
    dimension: 'storage',
    price: 0.16,
    sku: 'USE1-TimedStorage-Z-ByteHrs',
    source: 'price-list',
  },
  {
    service: 'efs',
    type: 'oneZoneInfrequentAccess',
    dimension: 'storage',
    price: 0.0133,
    sku: 'USE1-IATimedStorage-Z-ByteHrs',
    source: 'price-list',
  },
];

/** An IOPS price: flat, or tiers in order, each up to an IOPS count (the last without). */
type IopsPrice = number | Array<{ upTo?: number; price: number }>;

interface EbsPrice {
  perGiBMonth: number;
  /** Every provisioned IOPS (io1, io2), or those above the free baseline (gp3). */
  perIopsMonth?: IopsPrice;
  /** MiB/s above the free baseline (gp3). */
  perMiBpsMonth?: number;
}

interface EfsPrice {
  standardPerGiBMonth: number;
  infrequentAccessPerGiBMonth?: number;
  oneZonePerGiBMonth?: number;
  oneZoneInfrequentAccessPerGiBMonth?: number;
}

/** A price table in the shape a policy's `prices:` section has (schema/storage-policy.schema.json). */
export interface PriceTable {
  currency: string;
  ebs: Record<string, EbsPrice>;
  efs?: EfsPrice;
}

const EFS_FIELDS: Record<string, keyof EfsPrice> = {
  standard: 'standardPerGiBMonth',
  infrequentAccess: 'infrequentAccessPerGiBMonth',
  oneZone: 'oneZonePerGiBMonth',
  oneZoneInfrequentAccess: 'oneZoneInfrequentAccessPerGiBMonth',
};

/** The table the rows make, as a policy writes one. */
export function tableOf(rows: readonly PriceRow[], currency = 'USD'): PriceTable {
  const table: PriceTable = { currency, ebs: {} };
  for (const row of rows) {
    if (row.service === 'efs') {
      const field = EFS_FIELDS[row.type];
      if (field) table.efs = { standardPerGiBMonth: 0, ...table.efs, [field]: row.price };
      continue;
    }
    const entry = (table.ebs[row.type] ??= { perGiBMonth: 0 });
    if (row.dimension === 'storage') entry.perGiBMonth = row.price;
    if (row.dimension === 'throughput') entry.perMiBpsMonth = row.price;
    if (row.dimension === 'iops' && !row.tier) entry.perIopsMonth = row.price;
    if (row.dimension === 'iops' && row.tier) {
      const tiers = Array.isArray(entry.perIopsMonth) ? entry.perIopsMonth : [];
      tiers.push(row.tier.to === undefined ? { price: row.price } : { upTo: row.tier.to, price: row.price });
      entry.perIopsMonth = tiers;
    }
  }
  // Tiers in order of their bounds, whatever order the rows came in (AWS's files list tier 3 first).
  for (const entry of Object.values(table.ebs))
    if (Array.isArray(entry.perIopsMonth))
      entry.perIopsMonth.sort((a, b) => (a.upTo ?? Infinity) - (b.upTo ?? Infinity));
  return table;
}

export const DEFAULT_PRICES: PriceTable = tableOf(DEFAULT_PRICE_ROWS);

/** What one volume provisions, for pricing. */
export interface PricedVolume {
  kind: 'ebs' | 'efs';
  /** The EBS volume type. */
  type: string;
  /** Whole GiB, as the EBS driver allocates (rounded up); EFS is elastic: the requested size. */
  gib: number;
  iops: number;
  throughputMiBps: number;
}

/** The free IOPS and throughput a gp3 volume includes; the other types charge every provisioned IOPS. */
const FREE: Record<string, { iops: number; mibps: number }> = { gp3: { iops: 3000, mibps: 125 } };

function iopsCost(price: IopsPrice | undefined, iops: number): number {
  if (price === undefined || iops <= 0) return 0;
  if (typeof price === 'number') return iops * price;
  let cost = 0;
  let from = 0;
  for (const tier of price) {
    const to = tier.upTo ?? Infinity;
    if (iops > from) cost += (Math.min(iops, to) - from) * tier.price;
    from = to;
  }
  return cost;
}

export interface Quote {
  /** Per month, in the table's currency. */
  total: number;
  currency: string;
  /** What is priced, for messages: "400 GiB x 0.125 + 20000 IOPS". */
  basis: string;
  /** What the quote leaves out (EBS standard's I/O requests; EFS's elasticity). */
  caveat: string | undefined;
}

/** The monthly list price of a volume under a table; undefined when the table has no price for its type. */
export function quoteMonthly(volume: PricedVolume, table: PriceTable): Quote | undefined {
  if (volume.kind === 'efs') {
    const perGiB = table.efs?.standardPerGiBMonth;
    if (perGiB === undefined) return undefined;
    return {
      total: volume.gib * perGiB,
      currency: table.currency,
      basis: `${volume.gib} GiB x ${perGiB} (EFS Standard)`,
      caveat: 'EFS is elastic: quoted for the requested size',
    };
  }
  const price = table.ebs[volume.type];
  if (!price) return undefined;
  const free = FREE[volume.type] ?? { iops: 0, mibps: 0 };
  const paidIops = Math.max(0, volume.iops - free.iops);
  const paidMiBps = Math.max(0, volume.throughputMiBps - free.mibps);
  const total =
    volume.gib * price.perGiBMonth + iopsCost(price.perIopsMonth, paidIops) + paidMiBps * (price.perMiBpsMonth ?? 0);
  const basis = [
    `${volume.gib} GiB ${volume.type}`,
    ...(paidIops > 0 && price.perIopsMonth !== undefined ? [`${paidIops} IOPS`] : []),
    ...(paidMiBps > 0 && price.perMiBpsMonth !== undefined ? [`${paidMiBps} MiB/s`] : []),
  ].join(' + ');
  return {
    total,
    currency: table.currency,
    basis,
    caveat: volume.type === 'standard' ? 'I/O requests are not quoted' : undefined,
  };
}

/** Two decimals and the currency, as the annotation and messages show a cost: "412.80 USD". */
export function formatCost(amount: number, currency: string): string {
  return `${(Math.round(amount * 100) / 100).toFixed(2)} ${currency}`;
}
