import { registerHooks } from 'node:module';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Watch } from '@kubernetes/client-node/dist/watch.js';

/** The two parts of @kubernetes/client-node this webhook uses: kubeconfig loading with its authenticators, and watches. */
interface ClientNode {
  KubeConfig: typeof KubeConfig;
  Watch: typeof Watch;
}

const SLIM_IMPORTS = new URL('./client-node-config-imports.js', import.meta.url).href;
let loading: Promise<ClientNode> | undefined;

async function loadSlim(): Promise<ClientNode> {
  registerHooks({
    resolve(specifier, context, next) {
      if (specifier === './gen/index.js' && context.parentURL?.endsWith('/@kubernetes/client-node/dist/config.js'))
        return { url: SLIM_IMPORTS, shortCircuit: true };
      return next(specifier, context);
    },
  });
  const [{ KubeConfig: config }, { Watch: watch }] = await Promise.all([
    import('@kubernetes/client-node/dist/config.js'),
    import('@kubernetes/client-node/dist/watch.js'),
  ]);
  return { KubeConfig: config, Watch: watch };
}

/**
 * client-node's KubeConfig and Watch, loaded once, on first use, and without the generated API models its
 * config module drags in through the package index. Should a client-node release import more from there
 * (the slim load then fails to link), the whole package is loaded instead: more memory, same behaviour.
 */
export function clientNode(): Promise<ClientNode> {
  loading ??= loadSlim().catch(async () => {
    const full = await import('@kubernetes/client-node');
    return { KubeConfig: full.KubeConfig, Watch: full.Watch };
  });
  return loading;
}
