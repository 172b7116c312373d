import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importPrices } from '../../src/authoring/price-import.js';
import {
  DEFAULT_PRICE_ROWS,
  DEFAULT_PRICES,
  formatCost,
  quoteMonthly,
  type PricedVolume,
} from '../../src/core/prices.js';
import { composeSettings } from '../../src/rules/registry.js';
import { policy } from '../helpers.js';

// The price table: its arithmetic at every tier boundary, the docs and AWS's own files held to it, the importer's
// formats and errors, and which policy's prices win.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHARED_PRICES = join(ROOT, '..', 'shared', 'prices');

const ebs = (type: string, gib: number, iops = 0, throughputMiBps = 0): PricedVolume => ({
  kind: 'ebs',
  type,
  gib,
  iops,
  throughputMiBps,
});
const total = (volume: PricedVolume): number =>
  Math.round((quoteMonthly(volume, DEFAULT_PRICES)?.total ?? NaN) * 1e6) / 1e6;

describe('the price table', () => {
  it('gp3: IOPS above 3,000 and throughput above 125 MiB/s are paid, the rest free (3000/3001, 125/126)', () => {
    assert.equal(total(ebs('gp3', 100, 3000, 125)), 8);
    assert.equal(total(ebs('gp3', 100, 3001, 125)), 8.005);
    assert.equal(total(ebs('gp3', 100, 3000, 126)), 8.04);
    assert.equal(total(ebs('gp3', 100, 0, 0)), 8, 'no IOPS or throughput parameter: the baseline');
  });

  it('io2: IOPS in three tiers, boundaries at 32,000 and 64,000 (32000/32001, 64000/64001)', () => {
    assert.equal(total(ebs('io2', 10, 32_000)), 1.25 + 32_000 * 0.065);
    assert.equal(total(ebs('io2', 10, 32_001)), 1.25 + 32_000 * 0.065 + 0.0455);
    assert.equal(total(ebs('io2', 10, 64_000)), Math.round((1.25 + 32_000 * 0.065 + 32_000 * 0.0455) * 1e6) / 1e6);
    assert.equal(
      total(ebs('io2', 10, 64_001)),
      Math.round((1.25 + 32_000 * 0.065 + 32_000 * 0.0455 + 0.03185) * 1e6) / 1e6,
    );
  });

  it('io1 pays every IOPS; gp2, st1, sc1 and standard storage only (standard says I/O is not quoted); EFS by the request', () => {
    assert.equal(total(ebs('io1', 100, 5000)), 12.5 + 325);
    assert.equal(total(ebs('st1', 500)), 22.5);
    assert.equal(quoteMonthly(ebs('standard', 10), DEFAULT_PRICES)?.caveat, 'I/O requests are not quoted');
    const efs = quoteMonthly({ kind: 'efs', type: 'standard', gib: 1.5, iops: 0, throughputMiBps: 0 }, DEFAULT_PRICES);
    assert.equal(Math.round((efs?.total ?? 0) * 100) / 100, 0.45);
    assert.match(efs?.caveat ?? '', /elastic/);
    assert.equal(quoteMonthly(ebs('gp9', 10), DEFAULT_PRICES), undefined, 'no price: no quote');
  });

  it('formats two decimals and the currency', () => {
    assert.equal(formatCost(412.8, 'USD'), '412.80 USD');
    assert.equal(formatCost(0.005, 'EUR'), '0.01 EUR');
  });

  it('docs/storage-facts.md states every row with its price and SKU', () => {
    const docs = readFileSync(join(ROOT, 'docs/storage-facts.md'), 'utf8').split('\n');
    for (const row of DEFAULT_PRICE_ROWS) {
      const line = docs.find((text) => text.startsWith('| E') && text.endsWith(`| ${row.sku} |`));
      assert.ok(line, `${row.service} ${row.type} ${row.dimension} (${row.sku}) is in the table`);
      const numbers = [...line.matchAll(/\d+\.\d+/g)].map((match) => Number(match[0]));
      assert.ok(numbers.includes(Math.round(row.price * 1e6) / 1e6), `${row.sku}: ${row.price} in ${line}`);
    }
  });

  it(
    "the importer reproduces the default table from AWS's files (the calculator's EBS data and GetProducts for EFS)",
    { skip: existsSync(SHARED_PRICES) ? false : `${SHARED_PRICES} is not beside the checkout` },
    () => {
      const read = (name: string): unknown => JSON.parse(readFileSync(join(SHARED_PRICES, name), 'utf8'));
      const fromCalculator = importPrices(read('ebs-calculator-us-east-1.json'), 'us-east-1', 'ebs');
      assert.deepEqual(fromCalculator.ebs, DEFAULT_PRICES.ebs);
      const fromPriceList = importPrices(read('efs-getproducts-us-east-1.json'), 'us-east-1', 'efs');
      assert.deepEqual(fromPriceList.efs, DEFAULT_PRICES.efs);
      assert.equal(fromPriceList.currency, 'USD');
    },
  );

  it('the importer reads an offer file (index.json) too, and refuses other files and missing regions clearly', () => {
    const offer = {
      products: {
        SKU1: { sku: 'SKU1', attributes: { regionCode: 'eu-west-1', usagetype: 'EUW1-EBS:VolumeUsage.gp3' } },
        SKU2: { sku: 'SKU2', attributes: { regionCode: 'eu-west-1', usagetype: 'EUW1-EBS:VolumeP-IOPS.io2.tier2' } },
      },
      terms: {
        OnDemand: {
          SKU1: { 'SKU1.JRTCKXETXF': { priceDimensions: { d: { unit: 'GB-Mo', pricePerUnit: { EUR: '0.088' } } } } },
          SKU2: { 'SKU2.JRTCKXETXF': { priceDimensions: { d: { unit: 'IOPS-Mo', pricePerUnit: { EUR: '0.05' } } } } },
        },
      },
    };
    assert.deepEqual(importPrices(offer, 'eu-west-1', undefined), {
      currency: 'EUR',
      ebs: { gp3: { perGiBMonth: 0.088 }, io2: { perGiBMonth: 0, perIopsMonth: [{ upTo: 64000, price: 0.05 }] } },
    });
    assert.throws(() => importPrices({ hello: 1 }, 'us-east-1', undefined), /not an AWS price file/);
    assert.throws(
      () => importPrices(offer, 'us-east-1', undefined),
      /no products for us-east-1 in this file; it has eu-west-1/,
    );
    assert.throws(() => importPrices(offer, 'Ireland', undefined), /not an AWS region code/);
  });

  it("policies' prices override per type, the highest precedence winning", () => {
    const low = policy({
      name: 'low',
      priority: 0,
      prices: { currency: 'USD', ebs: { gp3: { perGiBMonth: 0.07 }, gp2: { perGiBMonth: 0.09 } } },
    });
    const high = policy({
      name: 'high',
      priority: 10,
      prices: { currency: 'USD', ebs: { gp3: { perGiBMonth: 0.05 } } },
    });
    const { table, setBy } = composeSettings([high, low]).prices;
    assert.equal(table.ebs['gp3']?.perGiBMonth, 0.05);
    assert.equal(table.ebs['gp2']?.perGiBMonth, 0.09);
    assert.equal(table.ebs['io2'], DEFAULT_PRICES.ebs['io2'], 'the built-in price where no policy sets one');
    assert.deepEqual(setBy, { gp3: 'high', gp2: 'low' });
  });
});
