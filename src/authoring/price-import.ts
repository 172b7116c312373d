import { isObject, objectAt, stringAt, type JsonObject, type JsonValue } from '../core/json.js';
import { tableOf, type PriceRow, type PriceTable } from '../core/prices.js';

// Reads AWS's own price files into a policy's `prices:` block, so a team takes its region's list prices without
// retyping them. Three formats (AWS Billing User Guide, "Reading the service price list file"; the AWS CLI's
// `pricing get-products`): the bulk API's offer file (`index.json`: products and terms by SKU), `GetProducts` output
// (`PriceList`: one record per product), and the Pricing Calculator's data file (`regions` by location name).

type PriceService = 'ebs' | 'efs';

export class PriceImportError extends Error {}

/** Region codes and the location names AWS's price files use for them. */
const LOCATIONS: Record<string, string> = {
  'us-east-1': 'US East (N. Virginia)',
  'us-east-2': 'US East (Ohio)',
  'us-west-1': 'US West (N. California)',
  'us-west-2': 'US West (Oregon)',
  'ca-central-1': 'Canada (Central)',
  'sa-east-1': 'South America (Sao Paulo)',
  'eu-west-1': 'EU (Ireland)',
  'eu-west-2': 'EU (London)',
  'eu-west-3': 'EU (Paris)',
  'eu-central-1': 'EU (Frankfurt)',
  'eu-north-1': 'EU (Stockholm)',
  'ap-south-1': 'Asia Pacific (Mumbai)',
  'ap-northeast-1': 'Asia Pacific (Tokyo)',
  'ap-northeast-2': 'Asia Pacific (Seoul)',
  'ap-southeast-1': 'Asia Pacific (Singapore)',
  'ap-southeast-2': 'Asia Pacific (Sydney)',
};

const EBS_TYPES = ['gp3', 'gp2', 'io1', 'io2', 'st1', 'sc1', 'standard'];

/** io2's tiers, as AWS's EBS pricing page states them: the files list each as its own usage type. */
const IO2_TIERS: Record<number, { from: number; to: number | undefined }> = {
  1: { from: 1, to: 32_000 },
  2: { from: 32_001, to: 64_000 },
  3: { from: 64_001, to: undefined },
};

/** GiBps-month to MiBps-month: AWS publishes gp3 throughput per GiBps. */
const PER_MIBPS = 1 / 1024;

function number(text: string | undefined, what: string): number {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value))
    throw new PriceImportError(`${what}: price ${String(text)} is not a number`);
  return value;
}

/** A calculator meter name ("Provisioned EBS IOPS Tier 2 io2 Volumes per IOPS Mo") as the row it prices. */
function calculatorRow(name: string, price: number, rateCode: string): PriceRow | undefined {
  const type = EBS_TYPES.find((candidate) => new RegExp(`(^| )${candidate}( |$)`).test(name));
  if (!type) return undefined;
  const sku = rateCode.split('.')[0] ?? rateCode;
  if (/Throughput .*GiBps/i.test(name))
    return { service: 'ebs', type, dimension: 'throughput', price: price * PER_MIBPS, sku, source: 'calculator' };
  if (/IOPS .*per IOPS/i.test(name) || /IOPS Mo$/i.test(name)) {
    const tier = Number(/Tier (\d)/.exec(name)?.[1] ?? 1);
    return type === 'io2'
      ? { service: 'ebs', type, dimension: 'iops', tier: IO2_TIERS[tier], price, sku, source: 'calculator' }
      : { service: 'ebs', type, dimension: 'iops', price, sku, source: 'calculator' };
  }
  if (/GB[- ](Mo|month)/i.test(name))
    return { service: 'ebs', type, dimension: 'storage', price, sku, source: 'calculator' };
  return undefined;
}

function fromCalculator(file: JsonObject, region: string): { rows: PriceRow[]; currency: string } {
  const location = LOCATIONS[region];
  const regions = objectAt(file, 'regions') ?? {};
  const meters = location ? objectAt(regions, location) : undefined;
  if (!meters)
    throw new PriceImportError(
      `no prices for ${region}${location ? ` (${location})` : ''} in this calculator file; it has ${Object.keys(regions).join(', ') || 'no regions'}`,
    );
  const rows = Object.entries(meters).flatMap(([name, meter]) => {
    const row = calculatorRow(name, number(stringAt(meter, 'price'), name), stringAt(meter, 'rateCode') ?? '');
    return row ? [row] : [];
  });
  return { rows, currency: stringAt(file, 'manifest', 'currencyCode') ?? 'USD' };
}

/** A Price List product (GetProducts record or offer-file product with its terms) as the row it prices. */
function productRow(record: JsonObject): { row: PriceRow; currency: string } | undefined {
  const attributes = objectAt(record, 'product', 'attributes') ?? {};
  const usage = stringAt(attributes, 'usagetype') ?? '';
  const sku = stringAt(record, 'product', 'sku') ?? '';
  const onDemand = objectAt(record, 'terms', 'OnDemand') ?? {};
  const dimensions = Object.values(onDemand).flatMap((term) => Object.values(objectAt(term, 'priceDimensions') ?? {}));
  const [dimension] = dimensions;
  const prices = objectAt(dimension, 'pricePerUnit') ?? {};
  const [currency] = Object.keys(prices);
  if (!currency) return undefined;
  const price = number(stringAt(prices, currency), usage);
  const efs: Record<string, string> = {
    'TimedStorage-ByteHrs': 'standard',
    'IATimedStorage-ByteHrs': 'infrequentAccess',
    'TimedStorage-Z-ByteHrs': 'oneZone',
    'IATimedStorage-Z-ByteHrs': 'oneZoneInfrequentAccess',
  };
  // Usage types carry a region prefix outside us-east-1 (USE1-, EUW1-...): matched on the suffix.
  const efsType = Object.entries(efs).find(([suffix]) => usage === suffix || usage.endsWith(`-${suffix}`))?.[1];
  if (efsType)
    return {
      row: { service: 'efs', type: efsType, dimension: 'storage', price, sku: usage, source: 'price-list' },
      currency,
    };
  const ebs = /EBS:Volume(Usage|P-IOPS|P-Throughput)\.([a-z0-9]+)(?:\.tier(\d))?$/.exec(usage);
  if (!ebs?.[2]) return undefined;
  const type = ebs[2] === 'piops' ? 'io1' : ebs[2];
  if (ebs[1] === 'Usage')
    return { row: { service: 'ebs', type, dimension: 'storage', price, sku, source: 'price-list' }, currency };
  if (ebs[1] === 'P-Throughput')
    return {
      row: { service: 'ebs', type, dimension: 'throughput', price: price * PER_MIBPS, sku, source: 'price-list' },
      currency,
    };
  const tier = type === 'io2' ? IO2_TIERS[Number(ebs[3] ?? 1)] : undefined;
  return {
    row: { service: 'ebs', type, dimension: 'iops', ...(tier ? { tier } : {}), price, sku, source: 'price-list' },
    currency,
  };
}

function fromRecords(records: JsonObject[], region: string): { rows: PriceRow[]; currency: string } {
  const inRegion = records.filter((record) => stringAt(record, 'product', 'attributes', 'regionCode') === region);
  if (inRegion.length === 0) {
    const regions = [
      ...new Set(records.map((record) => stringAt(record, 'product', 'attributes', 'regionCode') ?? '?')),
    ];
    throw new PriceImportError(`no products for ${region} in this file; it has ${regions.join(', ')}`);
  }
  const rows = inRegion.flatMap((record) => productRow(record) ?? []);
  return { rows: rows.map(({ row }) => row), currency: rows[0]?.currency ?? 'USD' };
}

function parseRecord(entry: JsonValue): JsonObject {
  if (isObject(entry)) return entry;
  if (typeof entry === 'string') {
    const parsed: unknown = JSON.parse(entry);
    if (isObject(parsed)) return parsed;
  }
  throw new PriceImportError('a PriceList entry is neither a record nor a JSON string of one');
}

/** Which of AWS's formats a file is, by its top-level keys. */
function formatOf(file: JsonObject): 'calculator' | 'get-products' | 'offer' {
  if (isObject(file['regions']) && isObject(file['manifest'])) return 'calculator';
  if (Array.isArray(file['PriceList'])) return 'get-products';
  if (isObject(file['products']) && isObject(file['terms'])) return 'offer';
  throw new PriceImportError(
    'not an AWS price file: expected an offer file (products and terms), GetProducts output (PriceList) or a Pricing Calculator data file (manifest and regions)',
  );
}

/** The `prices:` block of a policy, from one of AWS's price files, for a region and optionally one service. */
export function importPrices(file: unknown, region: string, service: PriceService | undefined): PriceTable {
  if (!isObject(file)) throw new PriceImportError('the file is not a JSON object');
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    throw new PriceImportError(`--region ${region} is not an AWS region code such as us-east-1`);
  const format = formatOf(file);
  let parsed: { rows: PriceRow[]; currency: string };
  if (format === 'calculator') parsed = fromCalculator(file, region);
  else if (format === 'get-products') parsed = fromRecords((file['PriceList'] as JsonValue[]).map(parseRecord), region);
  else {
    const products = objectAt(file, 'products') ?? {};
    const onDemand = objectAt(file, 'terms', 'OnDemand') ?? {};
    parsed = fromRecords(
      Object.entries(products).map(([sku, product]) => ({
        product,
        terms: { OnDemand: objectAt(onDemand, sku) ?? {} },
      })),
      region,
    );
  }
  const rows = parsed.rows.filter((row) => service === undefined || row.service === service);
  if (rows.length === 0)
    throw new PriceImportError(`no ${service ?? 'EBS or EFS'} storage prices for ${region} in this file`);
  const table = tableOf(rows, parsed.currency);
  return service === 'efs' ? { currency: table.currency, ebs: {}, ...(table.efs ? { efs: table.efs } : {}) } : table;
}
