// One timer per instant something changes by itself (an enforceFrom, an exception's expiry, a claim turning idle):
// the audit and the floor follow it then, not at their next interval.

/** setTimeout's longest delay (about 24.8 days): an instant further ahead is caught by the runs in between. */
const LONGEST_DELAY_MS = 2 ** 31 - 1;

/** Calls `then` just after `instant` (epoch ms), without keeping the process alive; none for no instant or one too far ahead. */
export function timerAt(instant: number | undefined, then: () => void, now = Date.now()): NodeJS.Timeout | undefined {
  if (instant === undefined || !Number.isFinite(instant) || instant - now > LONGEST_DELAY_MS) return undefined;
  return setTimeout(then, Math.max(0, instant - now) + 1).unref();
}
