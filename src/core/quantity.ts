// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource): a signed decimal number with an
// optional binary (Ki..Ei), decimal (n, u, m, k, M..E) or exponent (e3, E-2) suffix.

const binarySuffixes: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const decimalSuffixes: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const quantityPattern = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

const GIB = 2 ** 30;

/** Quantities seen, parsed: requests repeat the same few strings ("10Gi"); bounded, cleared when full. */
const parsed = new Map<string, number | undefined>();
const MAX_REMEMBERED = 4096;

/** Bytes of a quantity string, or undefined when it is not a valid quantity. */
export function parseQuantity(text: string): number | undefined {
  if (parsed.has(text)) return parsed.get(text);
  const bytes = parseQuantityText(text);
  if (parsed.size >= MAX_REMEMBERED) parsed.clear();
  parsed.set(text, bytes);
  return bytes;
}

function parseQuantityText(text: string): number | undefined {
  const match = quantityPattern.exec(text.trim());
  if (!match) return undefined;
  const number = Number(match[1]);
  const suffix = match[2] ?? '';
  let multiplier: number | undefined = binarySuffixes[suffix] ?? decimalSuffixes[suffix];
  if (multiplier === undefined && /^[eE]/.test(suffix)) multiplier = 10 ** Number(suffix.slice(1));
  if (multiplier === undefined || !Number.isFinite(number)) return undefined;
  return number * multiplier;
}

/** Whole GiB a provisioner allocates for a request, rounding up as the CSI drivers do (util.RoundUpGiB). */
export function roundUpGiB(bytes: number): number {
  return Math.ceil(bytes / GIB);
}

export function formatGiB(gib: number): string {
  return gib % 1024 === 0 && gib > 0 ? `${gib / 1024}Ti` : `${gib}Gi`;
}
