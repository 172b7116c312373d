import { Engine } from '../engine/engine.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import type { PolicySet } from '../policy/load.js';

/**
 * The one mutable thing the server holds: the engine for the last good policy set. A reload builds a
 * new engine and swaps the reference, so a request sees either the old set or the new one, whole.
 */
export class WebhookState {
  private current: { engine: Engine; set: PolicySet } | undefined;
  lastReloadError: string | undefined;
  /** Set on SIGTERM: readiness fails first so endpoints drop this pod before it stops. */
  draining = false;

  constructor(
    readonly lookup: ClusterLookup,
    private readonly lookupReady: () => boolean = () => true,
  ) {}

  private readonly swapListeners: Array<() => void> = [];

  swap(set: PolicySet): void {
    this.current = {
      engine: new Engine({ policies: set.policies, lookup: this.lookup, exceptions: set.exceptions }),
      set,
    };
    this.lastReloadError = undefined;
    for (const listener of this.swapListeners) listener();
  }

  /** Called after every swap to a new policy set. */
  onSwap(listener: () => void): void {
    this.swapListeners.push(listener);
  }

  get engine(): Engine | undefined {
    return this.current?.engine;
  }

  get policySet(): PolicySet | undefined {
    return this.current?.set;
  }

  /** Ready: a valid policy set is loaded and the cluster data (if any) has synced. */
  readiness(): { ready: boolean; reason: string } {
    if (this.draining) return { ready: false, reason: 'shutting down' };
    if (!this.current) return { ready: false, reason: 'no valid policy set loaded' };
    if (!this.lookupReady()) return { ready: false, reason: 'cluster cache not synced' };
    return { ready: true, reason: `${this.current.set.policies.length} policies loaded` };
  }
}
